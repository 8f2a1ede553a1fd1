/**
 * Calls to the jupyter-sky server extension (/jupyter-sky/api/...). ServerConnection adds
 * the token or the XSRF header the server asks for, so the panel rides on Jupyter's own login.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface Cluster {
  name: string;
  infra: string;
  where: string;
  state: string;
  created_at: number;
  uptime_s: number;
  idle_s: number | null;
  cells_run: number;
  cost_per_hour: number;
  cost: number;
  ended_by: string;
  ended_at: number | null;
  can_stop?: boolean;
}

export interface Job {
  id: string;
  job: string;
  name: string;
  cluster: string;
  state: string;
  submitted_at: number;
  elapsed_s: number | null;
  first_line: string;
  final: boolean;
}

export interface Run {
  id: number;
  notebook: string;
  cell: string;
  duration_s: number;
  status: string;
  cost: number;
}

export interface Spend {
  total: number;
  today: number;
  per_cluster: { [name: string]: number };
  per_day: { [day: string]: number };
}

export interface GpuTable {
  header: string[];
  rows: string[][];
  note: string;
}

export async function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'jupyter-sky', 'api', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  const body = text ? JSON.parse(text) : {};
  if (!response.ok) {
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return body as T;
}

export function money(value: number): string {
  return value < 0.1 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

export function duration(seconds: number | null): string {
  if (seconds === null) {
    return '-';
  }
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
