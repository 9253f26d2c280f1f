package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// TokenCookie is the name of the cookie that may carry the API token, the
// way a browser (and its WebSocket) presents it.
const TokenCookie = "tipy_token"

// authenticate requires the token on a server that listens beyond loopback.
// GET /api/v1/health stays open for liveness probes. A request carrying the
// right token in the query (?token=T, as a link printed by tipyweb does)
// also gets the cookie, so that the pages and their WebSocket work after it.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.requireToken || (r.Method == http.MethodGet && r.URL.Path == "/api/v1/health") {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && s.tokenOK(q) {
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			next.ServeHTTP(w, r)
			return
		}
		tok := ""
		if a := r.Header.Get("Authorization"); a != "" {
			scheme, t, ok := strings.Cut(a, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "the Authorization header must be \"Bearer <token>\""))
				return
			}
			tok = strings.TrimSpace(t)
		} else if c, err := r.Cookie(TokenCookie); err == nil {
			tok = c.Value
		}
		if tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tipy"`)
			writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "this server listens on %s and requires its token: send \"Authorization: Bearer <token>\" or the cookie %s", s.cfg.Listen, TokenCookie))
			return
		}
		if !s.tokenOK(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tipy", error="invalid_token"`)
			writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "wrong token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.cfg.Token)) == 1
}

// originOK accepts a WebSocket request without an Origin header (a program,
// not a browser) or from a page of the same host and port.
func originOK(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || sameHostDefaultPort(u, r.Host)
}

// sameHostDefaultPort matches "http://h" against a Host of "h:80" and the
// like.
func sameHostDefaultPort(u *url.URL, host string) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, h) && ((u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443"))
}
