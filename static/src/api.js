// api.js: the REST API of ../shared/contracts.md, JSON in and out.

/** ApiError carries the API's error object ({code, message}) and the HTTP status. */
export class ApiError extends Error {
  constructor(status, body, text) {
    super(body?.error?.message || text || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || '';
    this.body = body;
    this.text = text;
  }
}

/** call sends one request and returns {status, body, text}; it throws ApiError on a non-2xx answer. */
export async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(path.startsWith('/') ? path : `/api/v1/${path}`, init);
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  if (!res.ok) throw new ApiError(res.status, parsed, text);
  return { status: res.status, body: parsed, text };
}

/** get is call('GET', path) returning the body. */
export async function get(path) { return (await call('GET', path)).body; }
