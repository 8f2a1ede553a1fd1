/** The status-bar item: today's spend on every cluster, refreshed every few seconds. */
import { Widget } from '@lumino/widgets';

import { money, requestAPI, Spend } from './api';

export const SPEND_POLL_MS = 5000;

export class SpendItem extends Widget {
  private timer = 0;

  constructor() {
    super();
    this.addClass('jp-SkySpend');
    this.node.title = "jupyter-sky: today's spend on every cluster";
    this.node.textContent = 'sky $…';
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), SPEND_POLL_MS);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  async refresh(): Promise<void> {
    try {
      const spend = await requestAPI<Spend>('spend');
      this.node.textContent = `sky ${money(spend.today)} today`;
    } catch {
      this.node.textContent = 'sky —';
    }
  }
}
