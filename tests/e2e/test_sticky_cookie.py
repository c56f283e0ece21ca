"""Cookie stickiness (`sticky: {mode: cookie}`).

Issue 5: the first response gets `Set-Cookie: FULCRUM_STICKY=<id>; Path=/; HttpOnly`,
where the id reveals neither the backend's address nor its port; 100 requests carrying
it reach that backend (and are not given a new cookie); when that backend dies the next
request goes to another one and gets a new cookie, which then sticks; two fulcrum
instances with the same secret issue and honour the same cookies, an instance with
another secret issues different ones."""

import collections
import re

import harness as h
import policy_helpers as ph

COOKIE = "FULCRUM_STICKY"
SET_COOKIE_RE = re.compile(r"^FULCRUM_STICKY=([^;\s]+); Path=/; HttpOnly$")


class StickyCookie(h.FulcrumTestCase):
    def config(self, port, backends, secret="s3cret"):
        entries = "\n".join(f'          - {{ address: "{b.address}" }}' for b in backends)
        return (f"workers: 2\n"
                f"listeners:\n"
                f'  - {{ name: web, listen: "127.0.0.1:{port}", protocol: http, pool: p }}\n'
                f"pools:\n"
                f"  - name: p\n"
                f"    policy: round_robin\n"
                f"    timeouts: {{ connect: 1s }}\n"
                f"    sticky: {{ mode: cookie, cookie: {COOKIE}, secret: {secret} }}\n"
                f"    backends:\n{entries}\n")

    def start(self, n=3, **kw):
        backends = [self.backend(h.HttpBackend(f"b{i}")) for i in range(n)]
        port = h.free_port()
        f = self.fulcrum(self.config(port, backends), **kw)
        return f, port, backends

    def cookie_of(self, resp):
        """The sticky id set by `resp` (asserting the exact Set-Cookie form), or None."""
        values = [v for v in resp.header_all("Set-Cookie") if v.startswith(COOKIE + "=")]
        if not values:
            return None
        self.assertEqual(len(values), 1, f"several sticky cookies: {values}")
        m = SET_COOKIE_RE.match(values[0])
        self.assertIsNotNone(m, f"Set-Cookie not in the expected form: {values[0]!r}")
        return m.group(1)

    def with_cookie(self, port, cookie, path="/"):
        r = ph.get(port, path, [("Cookie", f"other=1; {COOKIE}={cookie}")])
        self.assertEqual(r.status, 200)
        return r

    def assert_opaque(self, cookie, backends):
        for b in backends:
            self.assertNotIn(str(b.port), cookie, "cookie reveals a backend port")
        self.assertNotIn("127.0.0.1", cookie)
        self.assertNotIn("7f000001", cookie.lower())
        self.assertGreaterEqual(len(cookie), 16, "cookie id too short to be a keyed hash")

    def cookies_by_backend(self, port):
        """backend name -> cookie id issued for it, from fresh requests without cookie."""
        out = {}
        for _ in range(30):
            r = ph.get(port)
            self.assertEqual(r.status, 200)
            name, cookie = ph.backend_of(r), self.cookie_of(r)
            self.assertIsNotNone(cookie, "first response has no sticky cookie")
            self.assertEqual(out.setdefault(name, cookie), cookie,
                             f"two different cookies for {name}")
            if len(out) == 3:
                break
        self.assertEqual(len(out), 3, f"only reached {sorted(out)}")
        self.assertEqual(len(set(out.values())), 3, f"cookies not distinct: {out}")
        return out

    def test_cookie_sticks_for_100_requests_and_moves_when_backend_dies(self):
        f, port, backends = self.start()
        first = ph.get(port)
        self.assertEqual(first.status, 200)
        home = ph.backend_of(first)
        cookie = self.cookie_of(first)
        self.assertIsNotNone(cookie, f"no Set-Cookie: {first.headers}")
        self.assert_opaque(cookie, backends)
        hits = collections.Counter()
        for i in range(100):
            r = self.with_cookie(port, cookie, f"/r{i}")
            hits[ph.backend_of(r)] += 1
            self.assertIsNone(self.cookie_of(r), "a valid cookie was replaced")
        self.assertEqual(dict(hits), {home: 100})

        by_name = {b.name: b for b in backends}
        by_name[home].stop()
        self.assertTrue(h.port_refuses(by_name[home].port))
        r = self.with_cookie(port, cookie, "/after-death")
        moved_to = ph.backend_of(r)
        self.assertNotEqual(moved_to, home)
        new_cookie = self.cookie_of(r)
        self.assertIsNotNone(new_cookie, "re-routed response did not replace the cookie")
        self.assertNotEqual(new_cookie, cookie)
        self.assert_opaque(new_cookie, backends)
        hits = collections.Counter()
        for i in range(30):
            r = self.with_cookie(port, new_cookie, f"/new{i}")
            hits[ph.backend_of(r)] += 1
            self.assertIsNone(self.cookie_of(r))
        self.assertEqual(dict(hits), {moved_to: 30})

    def test_drained_backend_keeps_its_clients_and_takes_no_new_ones(self):
        # weight: 0 set by a reload (maintenance): clients that hold its cookie stay on it, as
        # with HAProxy's weight 0 and nginx's drain; new clients never get it.
        f, port, backends = self.start()
        cookies = self.cookies_by_backend(port)
        drained = backends[1]
        text = self.config(port, backends).replace(
            f'{{ address: "{drained.address}" }}', f'{{ address: "{drained.address}", weight: 0 }}')
        self.assertIn("weight: 0", text)
        f.reload(text)
        for _ in range(20):
            r = self.with_cookie(port, cookies["b1"])
            self.assertEqual(ph.backend_of(r), "b1")
            self.assertIsNone(self.cookie_of(r), "the cookie was replaced")
        fresh = collections.Counter(ph.backend_of(ph.get(port)) for _ in range(40))
        self.assertEqual(fresh["b1"], 0, fresh)
        self.assertEqual(fresh["b0"] + fresh["b2"], 40, fresh)

    def test_the_valid_one_of_several_cookies_of_the_name_counts(self):
        # A client can carry two cookies of the name: RFC 6265 clients send the one of a
        # longer Path first, e.g. a stale one scoped to /app by another deployment. The one
        # that names a backend of this pool is used; reading only the first re-pinned the
        # client on every request, with a new Set-Cookie each time.
        f, port, backends = self.start()
        first = ph.get(port)
        home, cookie = ph.backend_of(first), self.cookie_of(first)
        for value in ("stale", "0" * 32):
            hits = collections.Counter()
            for i in range(12):
                r = ph.get(port, f"/app/{i}", [("Cookie", f"{COOKIE}={value}; {COOKIE}={cookie}")])
                self.assertEqual(r.status, 200)
                hits[ph.backend_of(r)] += 1
                self.assertIsNone(self.cookie_of(r), "the valid cookie was replaced")
            self.assertEqual(dict(hits), {home: 12})

    def test_instances_with_same_secret_share_cookies(self):
        backends = [self.backend(h.HttpBackend(f"b{i}")) for i in range(3)]
        p1, p2, p3 = h.free_port(), h.free_port(), h.free_port()
        self.fulcrum(self.config(p1, backends), name="one.yaml")
        # Same secret, backends listed in another order: the same ids.
        self.fulcrum(self.config(p2, list(reversed(backends))), name="two.yaml")
        self.fulcrum(self.config(p3, backends, secret="other-secret"), name="three.yaml")
        one = self.cookies_by_backend(p1)
        self.assertEqual(self.cookies_by_backend(p2), one)
        three = self.cookies_by_backend(p3)
        for name in one:
            self.assertNotEqual(three[name], one[name], "the secret does not key the id")
        # A cookie issued by instance one is honoured by instance two (no new cookie).
        for name, cookie in one.items():
            for i in range(5):
                r = self.with_cookie(p2, cookie, f"/x{i}")
                self.assertEqual(ph.backend_of(r), name)
                self.assertIsNone(self.cookie_of(r))
        # Instance three does not honour them: it issues its own cookie.
        r = self.with_cookie(p3, one["b0"])
        self.assertEqual(self.cookie_of(r), three[ph.backend_of(r)])


if __name__ == "__main__":
    h.main()
