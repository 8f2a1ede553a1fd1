/** jupyter-sky's JupyterLab plugins: the "Sky" side panel and the spend status-bar item. */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';

import { SkyPanel } from './panel';
import { SpendItem } from './status';

const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-sky:panel',
  description: 'A side panel with clusters, detached jobs, spend and GPU prices.',
  autoStart: true,
  requires: [ILabShell],
  activate: (app: JupyterFrontEnd, shell: ILabShell) => {
    const panel = new SkyPanel();
    shell.add(panel, 'right', { rank: 600 });
    app.commands.addCommand('jupyter-sky:open-panel', {
      label: 'Show the Sky panel',
      execute: () => shell.activateById(panel.id)
    });
  }
};

const spendPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-sky:spend',
  description: "Today's jupyter-sky spend in the status bar.",
  autoStart: true,
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, statusBar: IStatusBar | null) => {
    if (!statusBar) {
      return;
    }
    statusBar.registerStatusItem('jupyter-sky:spend', {
      item: new SpendItem(),
      align: 'left',
      rank: 900
    });
  }
};

export default [panelPlugin, spendPlugin];
