#!/usr/bin/env python3
"""Checks that the workspace's `rust-version` is at least the `rust-version`
declared by every crate our published crates depend on (normal and build
dependencies, transitively; dev-dependencies only build our tests)."""
import json
import subprocess
import sys

meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked"], text=True))
pkgs = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
members = set(meta["workspace_members"])


def ver(s):
    """"1.85" and "1.85.0" are the same version: pad to three parts."""
    parts = [int(x) for x in s.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


published = [m for m in members if pkgs[m].get("publish") != []]
ours = {pkgs[m]["rust_version"] for m in members if pkgs[m].get("rust_version")}
if len(ours) != 1:
    sys.exit(f"workspace members disagree on rust-version: {sorted(ours)}")
declared = ver(ours.pop())

seen, stack = set(), list(published)
while stack:
    pid = stack.pop()
    if pid in seen:
        continue
    seen.add(pid)
    for dep in nodes[pid]["deps"]:
        if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
            stack.append(dep["pkg"])

worst = max(((ver(pkgs[p]["rust_version"]), pkgs[p]["name"]) for p in seen - members
             if pkgs[p].get("rust_version")), default=((0,), "none"))
print(f"workspace rust-version {'.'.join(map(str, declared))}; highest needed by a dependency: "
      f"{'.'.join(map(str, worst[0]))} ({worst[1]})")
if worst[0] > declared:
    sys.exit("raise [workspace.package] rust-version in Cargo.toml")
