/* Two runs side by side (GET /runs/{id}/compare?with=): members new / gone / moved / branch changed,
 * coverage before and after, by area, and (planners) the work list; every value set as text. */
'use strict';
(() => {
  const { T, api, el, clear, pct, int } = GP;
  const root = document.getElementById('cmp-root');
  const runId = root.dataset.runId, withId = root.dataset.withId;
  const planner = root.dataset.planner === 'true';
  const figure = (key, label, text) => el('div', { class: 'figure', dataset: { key } }, el('span', { class: 'fl' }, label), el('b', {}, text));
  const change = v => (v === null || v === undefined) ? '–' : (v > 0 ? '+' : '') + (100 * v).toFixed(1);

  async function start() {
    const q = new URLSearchParams({ with: withId });
    const res = await api(`/runs/${encodeURIComponent(runId)}/compare?${q}`);
    window.gpCompare = res;
    const m = res.members;
    clear(document.getElementById('cmp-before')).append(figure('before', T.wi_coverage, pct(res.coverage.before)));
    clear(document.getElementById('cmp-after')).append(figure('after', T.wi_coverage, pct(res.coverage.after)));
    clear(document.getElementById('cmp-counts')).append(
      figure('new', T.cmp_new, int(m.new)), figure('gone', T.cmp_gone, int(m.gone)),
      figure('moved', T.cmp_moved, int(m.moved)), figure('branch_changed', T.cmp_branch_changed, int(m.branch_changed)),
      figure('unchanged', T.cmp_unchanged, int(m.unchanged)),
      figure('moved_out_of_circle', T.cmp_out, int(res.moved_out_of_circle)),
      figure('moved_into_circle', T.cmp_into, int(res.moved_into_circle)));
    document.getElementById('cmp-note').textContent = res.note || '';
    GP.fillTable(document.getElementById('cmp-areas'), [
      { key: 'level', label: T.level, fmt: v => GP.value('level', v) },
      { key: 'area', label: T.area }, { key: 'township', label: T.township },
      { key: 'before', label: T.cmp_before, fmt: pct, cls: 'num' },
      { key: 'after', label: T.cmp_after, fmt: pct, cls: 'num' },
      { key: 'change', label: T.wi_change, fmt: change, cls: 'num' },
    ], res.coverage.by_area, (tr, r) => { if (r.change > 0) tr.classList.add('up'); else if (r.change < 0) tr.classList.add('down'); });
    if (planner && res.lists) {
      GP.fillTable(document.getElementById('cmp-work'), [
        { key: 'id', label: '#' }, { key: 'name', label: T.name }, { key: 'branch_id', label: T.branch },
        { key: 'reason', label: T.reason_col, fmt: v => String(v || '').split(',').map(x => x === 'branch' ? T.branch : T.cmp_out).join('；') },
        { key: 'walk_min_station', label: T.minutes, fmt: v => GP.num(v, 0), cls: 'num' },
        { key: 'moved_m', label: T.cmp_moved, fmt: v => GP.num(v, 0), cls: 'num' },
      ], res.lists.work_list || []);
      const who = [{ key: 'id', label: '#' }, { key: 'name', label: T.name }, { key: 'branch_id', label: T.branch },
        { key: 'township', label: T.township }, { key: 'community', label: T.community }];
      const extra = {
        moved: [{ key: 'moved_m', label: T.cmp_moved, fmt: v => GP.num(v, 0), cls: 'num' }],
        branch_changed: [{ key: 'branch_before', label: `${T.branch}（${T.cmp_before}）` }],
      };
      for (const key of ['new', 'gone', 'moved', 'branch_changed']) {
        GP.fillTable(document.getElementById(`cmp-list-${key}`), who.concat(extra[key] || []), res.lists[key] || []);
      }
    }
    window.gpCompareReady = true;
  }

  start().catch((e) => {
    document.getElementById('cmp-status').textContent = `${T.error}: ${e.message}`;
    window.gpFailed = e.message;
  });
})();
