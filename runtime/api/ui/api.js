// api.js: the console's client of Orbit's HTTP API. It uses the same
// endpoints and the same bearer token as any other client; the token,
// when the sidecar needs one, is kept for this tab only.

const TOKEN_KEY = 'orbit.token';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

let unauthorized = () => {};

// onUnauthorized sets what happens when the API answers 401: the token
// prompt.
export function onUnauthorized(fn) { unauthorized = fn; }

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// request calls the API. POSTs always carry Content-Type: application/json,
// which the API requires of bodies; answers are JSON, or text for graphs.
export async function request(method, path, body) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = {method, headers, cache: 'no-store'};
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (body !== undefined) init.body = body;
  }
  const res = await fetch(path, init);
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json() : await res.text();
  if (res.status === 401) unauthorized();
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || res.statusText, data);
  }
  return data;
}

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

export const api = {
  instances: (filters) => request('GET', '/v1/instances' + query(filters)),
  counts: (filters) => request('GET', '/v1/counts' + query(filters)),
  instance: (id) => request('GET', '/v1/instances/' + enc(id)),
  history: (id) => request('GET', '/v1/instances/' + enc(id) + '/history'),
  instanceGraph: (id) => request('GET', '/v1/instances/' + enc(id) + '/graph?format=svg'),
  send: (id, event, payload) => request('POST', '/v1/instances/' + enc(id) + '/events/' + enc(event), payload),
  control: (id, action) => request('POST', '/v1/instances/' + enc(id) + '/' + action),
  migrate: (id, version, dryRun) =>
    request('POST', '/v1/instances/' + enc(id) + '/migrate' + query({version, dry_run: dryRun ? 'true' : ''})),
  workflows: () => request('GET', '/v1/workflows'),
  workflow: (name) => request('GET', '/v1/workflows/' + enc(name)),
  workflowGraph: (name) => request('GET', '/v1/workflows/' + enc(name) + '/graph?format=svg'),
  plugins: () => request('GET', '/v1/plugins'),
};
