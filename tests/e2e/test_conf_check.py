"""Every shipped config is valid: `fulcrum -c FILE --check` on each conf/**/*.yaml
(run from the repository root, as the README does, so relative certificate paths
resolve) prints `FILE: ok` and exits 0."""

import glob
import os

import harness as h


class ConfCheck(h.FulcrumTestCase):
    def test_every_conf_file_checks_ok(self):
        conf = os.path.join(h.SOURCE_DIR, "conf")
        files = sorted(glob.glob(os.path.join(conf, "**", "*.yaml"), recursive=True) +
                       glob.glob(os.path.join(conf, "**", "*.yml"), recursive=True))
        self.assertTrue(files, "conf/ holds no config (the demo config must be there)")
        for path in files:
            rel = os.path.relpath(path, h.SOURCE_DIR)
            with self.subTest(file=rel):
                cp = h.run_fulcrum("-c", rel, "--check", cwd=h.SOURCE_DIR)
                out = cp.stdout + cp.stderr
                self.assertEqual(cp.returncode, 0, f"{rel}:\n{out}")
                self.assertIn(f"{rel}: ok", cp.stdout.splitlines(), out)
                self.assertEqual(h.sanitizer_lines(out), [])
        print(f"{len(files)} files checked")


if __name__ == "__main__":
    h.main()
