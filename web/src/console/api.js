// The console's JSON API client (/console/api/*). The admin token lives in sessionStorage and is
// sent as `Authorization: Bearer <token>`.
const KEY = 'tandem.adminToken'

export const getToken = () => { try { return sessionStorage.getItem(KEY) || '' } catch { return '' } }
export const setToken = (t) => { try { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY) } catch { /* ignore */ } }

export class ApiError extends Error {
  constructor (status, code, message) {
    super(message || code || `HTTP ${status}`)
    this.status = status
    this.code = code
  }

  get isAuth () { return this.status === 401 || this.status === 403 }
}

export const roomPath = (room) => `/rooms/${encodeURIComponent(room)}`

export const api = async (path, { method = 'GET', body } = {}) => {
  const headers = { Accept: 'application/json' }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res
  try {
    res = await fetch(`/console/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch (e) {
    throw new ApiError(0, 'network', `The server is not answering (${e.message}).`)
  }
  let data = null
  const text = await res.text()
  try { data = text ? JSON.parse(text) : null } catch { data = null }
  if (!res.ok) throw new ApiError(res.status, data?.error || `http_${res.status}`, data?.message || text.slice(0, 200) || res.statusText)
  return data
}
