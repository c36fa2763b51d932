// History mode's wiring into the page, kept out of main.ts: the mode itself, its test hooks, and a moment
// named in the URL (?at=) opening the page in history mode.
import type { View } from '../view.js';
import { exposeHistoryDebug } from './debug.js';
import { HistoryMode } from './mode.js';

export function startHistoryMode(o: { width: number; height: number; palette: readonly string[]; view: View; onChange: (active: boolean) => void }): HistoryMode {
  const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
  const mode = new HistoryMode({ ...o, overlay: $('#history-board'), panel: $('#history'), inspectorRoot: $('#inspector'), toggle: $('#tool-history') });
  exposeHistoryDebug(mode);
  const at = HistoryMode.momentInUrl();
  if (at !== null) void mode.enter(at);
  return mode;
}
