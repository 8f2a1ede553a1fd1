/**
 * The "Sky" side panel: clusters and detached jobs (polled every POLL_MS while the panel is
 * shown), Stop / Down with a confirmation, the recent runs of a cluster on a click, and a GPU
 * search box showing the `%sky gpus` table.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import {
  Cluster,
  duration,
  GpuTable,
  Job,
  money,
  requestAPI,
  Run,
  Spend
} from './api';

export const POLL_MS = 1000;

type Action = 'interrupt' | 'stop' | 'down';

const ACTIONS: Record<Action, (name: string) => { label: string; body: string }> = {
  interrupt: name => ({
    label: 'Interrupt',
    body: `Interrupt the cell running on cluster '${name}'? The kernel and its variables stay.`
  }),
  stop: name => ({
    label: 'Stop',
    body: `Stop cluster '${name}'? Its disk is kept and billing for compute stops; its remote variables are lost, and its next cell starts it again.`
  }),
  down: name => ({
    label: 'Down',
    body: `End cluster '${name}'? Its kernel stops and its remote variables are lost.`
  })
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

function table(header: string[], rows: (string | HTMLElement)[][]): HTMLTableElement {
  const t = el('table', 'jp-SkyPanel-table');
  const head = t.createTHead().insertRow();
  header.forEach(h => head.appendChild(el('th', '', h)));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) {
      const td = tr.insertCell();
      if (typeof cell === 'string') {
        td.textContent = cell;
      } else {
        td.appendChild(cell);
      }
    }
  }
  return t;
}

export class SkyPanel extends Widget {
  private clustersNode = el('div', 'jp-SkyPanel-clusters');
  private runsNode = el('div', 'jp-SkyPanel-runs');
  private jobsNode = el('div', 'jp-SkyPanel-jobs');
  private spendNode = el('div', 'jp-SkyPanel-spend');
  private gpusNode = el('div', 'jp-SkyPanel-gpuResult');
  private errorNode = el('div', 'jp-SkyPanel-error');
  private timer = 0;
  private selected = '';

  constructor() {
    super();
    this.id = 'jupyter-sky-panel';
    this.addClass('jp-SkyPanel');
    this.title.caption = 'Sky: clusters, jobs and spend';
    this.title.label = 'Sky';
    const root = this.node;
    root.appendChild(el('h2', '', 'Sky'));
    root.appendChild(this.spendNode);
    root.appendChild(this.errorNode);
    root.appendChild(el('h3', '', 'Clusters'));
    root.appendChild(this.clustersNode);
    root.appendChild(this.runsNode);
    root.appendChild(el('h3', '', 'Detached jobs'));
    root.appendChild(this.jobsNode);
    root.appendChild(el('h3', '', 'GPU prices'));
    root.appendChild(this.gpuSearch());
    root.appendChild(this.gpusNode);
  }

  protected onAfterShow(): void {
    void this.refresh();
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  async refresh(): Promise<void> {
    try {
      const [clusters, jobs, spend] = await Promise.all([
        requestAPI<{ clusters: Cluster[] }>('clusters'),
        requestAPI<{ jobs: Job[] }>('jobs'),
        requestAPI<Spend>('spend')
      ]);
      this.showClusters(clusters.clusters);
      this.showJobs(jobs.jobs);
      this.spendNode.textContent = `Today ${money(spend.today)} · total ${money(spend.total)}`;
      this.errorNode.textContent = '';
      if (this.selected) {
        await this.showRuns(this.selected);
      }
    } catch (err) {
      this.errorNode.textContent = `The jupyter-sky server extension did not answer: ${err}`;
    }
  }

  private showClusters(clusters: Cluster[]): void {
    this.clustersNode.replaceChildren();
    if (!clusters.length) {
      this.clustersNode.appendChild(el('p', '', 'No clusters. A %%sky cell starts one.'));
      return;
    }
    const rows = clusters.map(c => [
      this.nameLink(c.name),
      c.infra,
      c.where,
      c.ended_by ? `${c.state} (${c.ended_by})` : c.state,
      duration(c.uptime_s),
      duration(c.idle_s),
      `${money(c.cost_per_hour)}/h`,
      money(c.cost),
      this.actions(c)
    ]);
    const header = ['Name', 'Infra', 'Where', 'State', 'Up', 'Idle', '$/h', '$ so far', ''];
    const t = table(header, rows);
    clusters.forEach((c, i) => {
      const row = t.tBodies[0].rows[i];
      row.dataset.cluster = c.name;
      row.dataset.state = c.state;
    });
    this.clustersNode.appendChild(t);
  }

  private nameLink(name: string): HTMLElement {
    const a = el('a', 'jp-SkyPanel-name', name);
    a.title = 'Show the recent runs of this cluster';
    a.onclick = () => {
      this.selected = this.selected === name ? '' : name;
      void (this.selected ? this.showRuns(name) : this.runsNode.replaceChildren());
    };
    return a;
  }

  private actions(c: Cluster): HTMLElement {
    const box = el('span', 'jp-SkyPanel-actions');
    if (c.state === 'DOWN') {
      return box;
    }
    if (c.state === 'UP') {
      const interrupt = el('button', 'jp-mod-styled jp-SkyPanel-interrupt', 'Interrupt');
      interrupt.title = 'Interrupt the running cell (the kernel and its variables stay)';
      interrupt.onclick = () => void this.act(c.name, 'interrupt');
      box.append(interrupt);
    }
    if (c.can_stop) {
      const stop = el('button', 'jp-mod-styled jp-SkyPanel-stop', 'Stop');
      stop.title = 'Stop the cluster and keep its disk (as %sky stop); its next cell starts it again';
      stop.onclick = () => void this.act(c.name, 'stop');
      box.append(stop);
    }
    const down = el('button', 'jp-mod-styled jp-mod-warn jp-SkyPanel-down', 'Down');
    down.title = 'End the cluster (its kernel and remote variables are gone)';
    down.onclick = () => void this.act(c.name, 'down');
    box.append(down);
    return box;
  }

  private async act(name: string, action: Action): Promise<void> {
    const { label, body } = ACTIONS[action](name);
    const result = await showDialog({
      title: `${label} cluster ${name}`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await requestAPI(`clusters/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
    } catch (err) {
      this.errorNode.textContent = String(err);
    }
    await this.refresh();
  }

  private async showRuns(name: string): Promise<void> {
    const data = await requestAPI<{ runs: Run[] }>(`clusters/${encodeURIComponent(name)}/runs`);
    const rows = data.runs.map(r => [
      r.notebook || '-',
      r.cell,
      duration(r.duration_s),
      r.status,
      money(r.cost)
    ]);
    this.runsNode.replaceChildren(
      el('h4', '', `Recent runs on ${name}`),
      table(['Notebook', 'Cell', 'Took', 'Status', 'Cost'], rows)
    );
  }

  private showJobs(jobs: Job[]): void {
    this.jobsNode.replaceChildren();
    if (!jobs.length) {
      this.jobsNode.appendChild(el('p', '', 'No detached jobs.'));
      return;
    }
    const rows = jobs.map(j => [
      j.id,
      j.name,
      j.cluster,
      j.state,
      duration(j.elapsed_s),
      j.first_line,
      j.final ? '' : this.cancelButton(j)
    ]);
    this.jobsNode.appendChild(
      table(['Id', 'Name', 'Cluster', 'State', 'Elapsed', 'First line', ''], rows)
    );
  }

  private cancelButton(job: Job): HTMLElement {
    const b = el('button', 'jp-mod-styled jp-SkyPanel-cancel', 'Cancel');
    b.onclick = async () => {
      const result = await showDialog({
        title: `Cancel job ${job.job}`,
        body: `Cancel detached job ${job.job} on ${job.cluster}? What it recorded stays attachable.`,
        buttons: [Dialog.cancelButton({ label: 'Keep' }), Dialog.warnButton({ label: 'Cancel job' })]
      });
      if (result.button.accept) {
        try {
          await requestAPI(`jobs/${encodeURIComponent(job.id)}/cancel`, { method: 'POST' });
        } catch (err) {
          this.errorNode.textContent = String(err);
        }
      }
    };
    return b;
  }

  private gpuSearch(): HTMLElement {
    const form = el('form', 'jp-SkyPanel-gpuSearch');
    const input = el('input', 'jp-mod-styled jp-SkyPanel-gpuInput');
    input.placeholder = 'A100:1 (empty: every accelerator)';
    const infra = el('input', 'jp-mod-styled jp-SkyPanel-gpuInfra');
    infra.placeholder = 'cloud (optional)';
    const go = el('button', 'jp-mod-styled jp-mod-accept', 'Search');
    go.type = 'submit';
    form.append(input, infra, go);
    form.onsubmit = event => {
      event.preventDefault();
      void this.searchGpus(input.value.trim(), infra.value.trim());
    };
    return form;
  }

  async searchGpus(name: string, infra: string): Promise<void> {
    const query = new URLSearchParams({ name, infra });
    this.gpusNode.replaceChildren(el('p', '', 'searching…'));
    try {
      const data = await requestAPI<GpuTable>(`gpus?${query}`);
      const parts: HTMLElement[] = [];
      if (data.rows.length) {
        parts.push(table(data.header, data.rows));
      }
      if (data.note) {
        parts.push(el('p', 'jp-SkyPanel-note', data.note));
      }
      this.gpusNode.replaceChildren(...parts);
    } catch (err) {
      this.gpusNode.replaceChildren(el('p', 'jp-SkyPanel-error', String(err)));
    }
  }
}
