#!/bin/bash
# imgctl pull --progress-fd N: JSON lines for programs (docs/progress-fd.md), checked by an
# independent reader (python's json module) against the registry's own manifest: a start line,
# byte counts that only grow and end at the sum of the layer sizes skopeo reports, the four
# steps in order, and an end line with the digest the pull printed — or the error, on failure.
# A reader that goes away must not break the pull.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
registry_fixture
make_image "$WORK/src" t "$salt"
push "oci:$WORK/src:t" "docker://$R/os/app:1"
skopeo inspect --raw --tls-verify=false "docker://$R/os/app:1" > "$WORK/manifest.json"
layers=$(python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(open(sys.argv[1]))["layers"]))' "$WORK/manifest.json")

d=$(pull --progress-fd 3 3>"$WORK/events.jsonl" "$R/os/app:1") || fail "pull with --progress-fd"
python3 - "$WORK/events.jsonl" "$layers" "$d" "$R/os/app:1" "$WORK/manifest.json" <<'PY' && ok "progress events: start, bytes (total and per layer), steps, end" || fail "progress events: $(cat "$WORK/events.jsonl")"
import json, sys
path, total, digest, source, manifest = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ev = [json.loads(l) for l in open(path, encoding="utf-8")]  # every line is one JSON object
assert ev[0] == {**ev[0], "type": "start", "version": 1, "command": "pull", "source": source}, ev[0]
# Per layer: events named by the layer digest, growing to the manifest's size for that layer.
sizes = {l["digest"]: l["size"] for l in json.load(open(manifest))["layers"]}
per = {}
for e in ev:
    if e["type"] == "bytes" and e["task"] == "layer":
        assert e["description"] in sizes and e["bytesTotal"] == sizes[e["description"]], e
        assert e["bytes"] >= per.get(e["description"], 0), ("layer bytes went backwards", e)
        per[e["description"]] = e["bytes"]
assert per == sizes, (per, sizes)
b = [e for e in ev if e["type"] == "bytes" and e["task"] == "download"]
assert b, "no bytes events"
assert all(e["bytesTotal"] == total for e in b), (total, b)
assert all(x["bytes"] <= y["bytes"] for x, y in zip(b, b[1:])), "bytes went backwards"
assert b[-1]["bytes"] == total, (b[-1], total)
steps = [(e["step"], e["steps"], e["stepsTotal"]) for e in ev if e["type"] == "step"]
assert steps == [("fetch", 1, 4), ("sync", 2, 4), ("compose", 3, 4), ("ref", 4, 4)], steps
assert ev[-1] == {**ev[-1], "type": "end", "ok": True, "image": digest, "upToDate": False}, ev[-1]
assert all(isinstance(e["time"], float) for e in ev)
PY

# Up to date: start and end, no download.
pull --progress-fd 3 3>"$WORK/again.jsonl" "$R/os/app:1" >/dev/null || fail "second pull"
python3 -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1])]; assert [e["type"] for e in ev]==["start","end"] and ev[-1]["upToDate"] is True, ev' \
  "$WORK/again.jsonl" && ok "up-to-date pull: start and end only" || fail "up-to-date: $(cat "$WORK/again.jsonl")"

# Failure: the end line carries the error the user sees.
pull --progress-fd 3 3>"$WORK/fail.jsonl" "$R/os/app:nosuchtag" 2>"$WORK/fail.err"; rc=$?
python3 -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1])]; e=ev[-1]; assert e["type"]=="end" and e["ok"] is False and "nosuchtag" in e["error"], ev' \
  "$WORK/fail.jsonl" && [ $rc -eq 1 ] && ok "failed pull: exit 1, end event with the error" || fail "failed pull (rc $rc): $(cat "$WORK/fail.jsonl")"

# A reader that closed its end: the pull still completes (no SIGPIPE death).
make_image "$WORK/src" t2 "$salt-2"
push "oci:$WORK/src:t2" "docker://$R/os/app:2"
d2=$(python3 -c 'import os,subprocess,sys
r, w = os.pipe(); os.close(r)
sys.exit(subprocess.run(sys.argv[1:] + ["--progress-fd", str(w)], pass_fds=[w]).returncode)' \
  "$IMGCTL" pull --repo "$WORK/repo" --insecure-registry "$R" --quiet "$R/os/app:2") && [ -n "$d2" ] &&
  ok "pull with a closed progress pipe completes" || fail "closed progress pipe (digest '$d2')"

# Bad descriptors are usage errors.
out=$(pull --progress-fd 77 "$R/os/app:1" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $out == *"--progress-fd 77"* ]] && ok "unopened fd: exit 2 ($out)" || fail "unopened fd: rc $rc: $out"
out=$(pull --progress-fd x "$R/os/app:1" 2>&1); rc=$?
[ $rc -eq 2 ] && ok "non-numeric fd: exit 2" || fail "non-numeric fd: rc $rc: $out"
finish
