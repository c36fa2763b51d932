// The projects panel: the project shown (completion, damage, overlay style and opacity, next pixel, alerts,
// public link), a form to create one, and the list of the canvas's projects. Plain buttons and inputs: they
// work the same with a mouse, a keyboard and a finger.
import type { ProjectSummary } from './api.js';
import type { OverlayStyle } from './overlay.js';
import type { ProjectState } from './state.js';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;

export interface PanelActions {
  open(): void;
  create(name: string, x: number, y: number, file: File): void;
  show(id: string): void;
  style(style: OverlayStyle, opacity: number): void;
  next(): void;
  alert(thresholdPercent: number): void;
}

const pct = (v: number) => `${(Math.floor(v * 10) / 10).toFixed(1)} %`;

export class ProjectsPanel {
  readonly root = $('#projects');
  private readonly toggle = $<HTMLButtonElement>('#tool-projects');

  constructor(private readonly a: PanelActions) {
    this.toggle.addEventListener('click', () => this.setOpen(this.root.hidden));
    $('#projects-close').addEventListener('click', () => this.setOpen(false));
    $<HTMLFormElement>('#project-create').addEventListener('submit', (e) => {
      e.preventDefault();
      const file = $<HTMLInputElement>('#project-new-file').files?.[0];
      if (file) a.create($<HTMLInputElement>('#project-new-name').value, Number($<HTMLInputElement>('#project-new-x').value), Number($<HTMLInputElement>('#project-new-y').value), file);
    });
    const style = () => a.style($<HTMLSelectElement>('#project-style').value as OverlayStyle, Number($<HTMLInputElement>('#project-opacity').value) / 100);
    $('#project-style').addEventListener('change', style);
    $('#project-opacity').addEventListener('input', style);
    $('#project-next').addEventListener('click', () => a.next());
    $('#project-alert').addEventListener('click', () => a.alert(Number($<HTMLInputElement>('#project-threshold').value)));
    $('#project-list').addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest<HTMLElement>('[data-project]')?.dataset.project;
      if (id) a.show(id);
    });
  }

  setOpen(open: boolean): void {
    this.root.hidden = !open;
    this.toggle.setAttribute('aria-pressed', String(open));
    if (open) this.a.open();
  }

  /** Where a new project goes by default: the pixel in the middle of the view. */
  setOrigin(x: number, y: number): void {
    $<HTMLInputElement>('#project-new-x').value = String(x);
    $<HTMLInputElement>('#project-new-y').value = String(y);
  }

  setBusy(busy: boolean): void {
    $<HTMLButtonElement>('#project-create-submit').disabled = busy;
  }

  list(projects: ProjectSummary[]): void {
    const ul = $('#project-list');
    ul.replaceChildren(
      ...projects.map((p) => {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'project-item';
        b.dataset.project = p.id;
        b.textContent = `${p.name} — ${pct(p.completionPercent)}`;
        li.append(b);
        return li;
      }),
    );
    $('#project-list-empty').hidden = projects.length > 0;
  }

  /** The project shown (null: none); called on every change of its counts. */
  current(p: ProjectState | null): void {
    const box = $('#project-current');
    box.hidden = p === null;
    if (!p) return;
    $('#project-name').textContent = p.info.name;
    $('#project-completion').textContent = p.hidden ? 'hidden by the moderators' : p.ready ? pct(p.completionPercent) : '…';
    $('#project-damage').textContent = p.ready ? `${p.damaged} damaged (${pct(p.damagePercent)})` : '';
    $<HTMLProgressElement>('#project-progress').value = p.completionPercent;
    $<HTMLAnchorElement>('#project-link').href = p.info.link;
    $<HTMLAnchorElement>('#project-link').textContent = new URL(p.info.link, location.href).href;
  }
}
