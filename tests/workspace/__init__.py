"""The planner's workspace and maps in a real browser (Playwright, Debian's Chromium)."""
