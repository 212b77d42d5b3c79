/* The runs list: tick two finished runs and compare them (the later one against the earlier one). */
'use strict';
(() => {
  const { T } = GP;
  const go = document.getElementById('cmp-go');
  if (!go) return;
  go.addEventListener('click', () => {
    const picked = Array.from(document.querySelectorAll('#runs input.cmp-pick:checked'))
      .map(cb => ({ id: cb.value, created: cb.dataset.created }));
    if (picked.length !== 2) { document.getElementById('cmp-hint').textContent = T.cmp_pick_two; return; }
    picked.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
    window.location.assign(`/workspace/runs/${encodeURIComponent(picked[1].id)}/compare/${encodeURIComponent(picked[0].id)}`);
  });
})();
