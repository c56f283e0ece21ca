"""SIGUSR1 reopens the access log (log rotation, README "Operations"): at once in every
worker, as nginx does, so that a rotated file is let go of even by a worker that writes
nothing, and the new file exists before its first line."""

import os
import signal

import harness as h
import http_helpers as hh


def files_open(pid: int, path: str) -> int:
    """How many of the process's descriptors point to `path` (by inode: it may be renamed)."""
    st = os.stat(path)
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fst = os.stat(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        count += (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino)
    return count


class LogReopen(h.FulcrumTestCase):
    def test_sigusr1_lets_go_of_the_rotated_file_at_once(self):
        b = self.backend(h.HttpBackend("b"))
        port = h.free_port()
        log_path = f"{self.tmp}/access.log"
        rotated = f"{self.tmp}/access.log.1"
        f = self.fulcrum(f'log: {{ access_log: "{log_path}", format: json }}\n' +
                         hh.http_config(port, [hh.pool("p", [b])], workers=2))
        self.assertEqual(h.http_request(port, b"GET /before HTTP/1.1\r\nHost: x\r\n\r\n").status,
                         200)
        hh.wait_for(lambda: len(hh.access_log_lines(log_path)) == 1, 3, "the first line")
        self.assertEqual(files_open(f.pid, log_path), 2)  # one per worker
        os.rename(log_path, rotated)
        f.signal(signal.SIGUSR1)
        # With no request at all, both workers reopen: the new file appears, and nothing of the
        # process holds the rotated one (its space would never be freed once deleted).
        hh.wait_for(lambda: os.path.exists(log_path) and files_open(f.pid, rotated) == 0, 3,
                    "the rotated file let go of")
        self.assertEqual(files_open(f.pid, log_path), 2)
        self.assertEqual(h.http_request(port, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n").status,
                         200)
        hh.wait_for(lambda: len(hh.access_log_lines(log_path)) == 1, 3, "the line after")
        self.assertEqual(hh.access_log_lines(log_path)[0]["path"], "/after")
        self.assertEqual([line["path"] for line in hh.access_log_lines(rotated)], ["/before"])


if __name__ == "__main__":
    h.main()
