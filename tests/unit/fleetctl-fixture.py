#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Canned fleetd answers for test-fleetctl.sh: one HTTP server per answer, on unix sockets in
DIR named after the answer (DIR/ok.sock, DIR/error.sock, ...; DIR/slow.sock answers as ok.sock
after 1 s), plus "ok" on 127.0.0.1 with its port written to DIR/tcp-port. When DIR/tls/ holds
ca.pem, server.pem and server.key, "ok" is also served over HTTPS on 127.0.0.1, only to clients
with a certificate ca.pem signed, its port in DIR/tls-port. Prints "ready" once everything
listens; runs until killed.

DIR/fake.sock serves FakeFleet: an in-memory imitation of fleetd's unit API (docs/api.md),
for testing fleetctl's own logic only (call sequences, waiting, paging, rendering); the real
daemon is tested by the cluster tests. It appends every request it gets to DIR/requests, one
line each: "METHOD PATH" and, if there is one, the body as compact JSON with sorted keys.
POST /_fixture/reset with a scenario (see FakeFleet.reset) starts over and empties the log.
FakeFleet also imitates the apps API (FakeApps): deploys, releases, rollouts that advance one
step at each GET /v1/apps/<app>, failures with an automatic rollback, scale, config, restart.
DIR/upgrade.sock serves FakeUpgrade, rolling host upgrades (drains, reboot slots, reboots), with
the same request log and reset.

Usage: fleetctl-fixture.py DIR
       fleetctl-fixture.py --reset SOCKET [SCENARIO-JSON]    (a client for the above)
"""

import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

MACHINES = {
    "machines": [
        {"id": "0123456789abcdef0123456789abcdef", "hostname": "node-a", "ip": "10.0.0.1",
         "metadata": {"role": "web", "region": "eu-west"}, "state": "active", "version": "0.1.0"},
        {"id": "fedcba9876543210fedcba9876543210", "hostname": "node-b", "ip": "10.0.0.2",
         "metadata": {}, "state": "draining", "version": "0.1.0"},
        {"id": "abc", "hostname": "odd", "metadata": {"zone": "b\nc", "gpu": 2}},
    ]
}


def error(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


# answer name -> (status, body) for GET /v1/machines
ANSWERS = {
    "ok": (200, json.dumps(MACHINES).encode()),
    "empty": (200, b'{"machines":[]}'),
    "error": (503, error("etcd_unavailable", "etcd did not answer: Connection refused")),
    "notfound": (404, error("not_found", "No such API path.")),
    "plain500": (500, b"<html>oops</html>"),
    "garbage": (200, b"this is not json"),
    "nolist": (200, b'{"machine":[]}'),
    "huge": (200, b" " * (17 * 1024 * 1024)),
    "slow": (200, json.dumps(MACHINES).encode()),
}


def handler_for(answer):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if answer == "slow":
                time.sleep(1)
            if self.path == "/v1/machines":
                status, body = ANSWERS[answer]
            else:
                status, body = 404, error("not_found", "No such API path.")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # fleetctl hangs up on answers it refuses

        def log_message(self, *args):
            pass

    return Handler


FAKE_MACHINES = [
    {"id": "3f2a1b9c4d5e6f708192a3b4c5d6e7f8", "hostname": "node-a", "ip": "10.0.0.11", "metadata": {},
     "state": "active", "version": "0.1.0"},
    {"id": "9d8e7f6a5b4c3d2e1f00112233445566", "hostname": "node-b", "ip": "10.0.0.12", "metadata": {},
     "state": "active", "version": "0.1.0"},
]

UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|timer|path|target)$")


def now_usec():
    return int(time.time() * 1000000)


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def template_of(name):
    """web@1.service -> web@.service; None for names that are not instances."""
    m = re.match(r"^([^@]+)@([^@.]+)(\.[a-z]+)$", name)
    return m.group(1) + "@" + m.group(3) if m else None


class FakeError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeFleet:
    """fleetd's unit API in memory, with machines that reach a desired state only after the
    unit's state has been polled a few times (GET /v1/state?unit=NAME)."""

    def __init__(self, directory):
        self.directory = directory
        self.log_path = os.path.join(directory, "requests")
        self.lock = threading.Lock()
        self.reset({})

    def reset(self, scenario):
        """scenario (all optional): units {name: {contents, desiredState}}, states {name: record},
        machines [...], page (units per /v1/units page), delay (polls before a change shows),
        behaviour {name: "fail" | "stuck" | "oneshot"}, placement {name: machine index},
        reasons {name: {state, reason, machine?}: why the engine did not place it (a unit that
        is "unschedulable" never gets a state)},
        status {name: object; a negative *Timestamp is that many usec before now},
        journal {name: [lines]}, journal_follow {name: [lines sent once DIR/journal-release exists]};
        for apps see FakeApps."""
        self.units = {}
        for name, u in scenario.get("units", {}).items():
            contents = u.get("contents", "[Service]\nExecStart=/bin/true\n")
            self.units[name] = {"name": name, "contents": contents, "hash": sha256(contents),
                                "desiredState": u.get("desiredState", "inactive")}
        self.states = dict(scenario.get("states", {}))
        self.machines = scenario.get("machines", FAKE_MACHINES)
        self.page = scenario.get("page", 1000)
        self.delay = scenario.get("delay", 2)
        self.behaviour = scenario.get("behaviour", {})
        self.placement = scenario.get("placement", {})
        self.reasons = scenario.get("reasons", {})
        self.status = scenario.get("status", {})
        self.journal = scenario.get("journal", {})
        self.journal_follow = scenario.get("journal_follow", {})
        self.routes = scenario.get("routes", [])
        self.pending = {}   # name -> [polls left, steps (records or None) still to show]
        self.apps = FakeApps(self.machines, scenario)
        with open(self.log_path, "w"):
            pass

    def log(self, method, path, body):
        line = method + " " + path
        if body is not None:
            line += " " + json.dumps(body, sort_keys=True, separators=(",", ":"))
        with open(self.log_path, "a") as f:
            f.write(line + "\n")

    def machine_of(self, name):
        return self.machines[self.placement.get(name, 0)]["id"]

    def record(self, name, load, active, sub):
        u = self.units[name]
        return {"name": name, "machine": self.machine_of(name), "hash": u["hash"], "load": load,
                "active": active, "sub": sub, "since": now_usec()}

    def steps_for(self, name, desired):
        """What the machine reports, one step after another, on its way to desired."""
        behaviour = self.behaviour.get(name)
        if desired == "inactive" or self.reasons.get(name, {}).get("state") == "unschedulable":
            return [None]
        if desired == "loaded":
            return [self.record(name, "loaded", "inactive", "dead")]
        if behaviour == "fail":
            return [self.record(name, "loaded", "failed", "failed")]
        if behaviour == "stuck":
            return [self.record(name, "loaded", "activating", "start")]
        if behaviour == "oneshot":
            return [self.record(name, "loaded", "activating", "start"), self.record(name, "loaded", "inactive", "dead")]
        return [self.record(name, "loaded", "active", "running")]

    def change_desired(self, name, desired):
        self.units[name]["desiredState"] = desired
        steps = self.steps_for(name, desired)
        if self.delay == 0:
            self.apply(name, steps[-1])
        else:
            self.pending[name] = [self.delay, steps]

    def apply(self, name, record):
        if record is None:
            self.states.pop(name, None)
        else:
            self.states[name] = record

    def poll(self, name):
        p = self.pending.get(name)
        if not p:
            return
        p[0] -= 1
        if p[0] > 0:
            return
        self.apply(name, p[1].pop(0))
        if p[1]:
            p[0] = 1
        else:
            del self.pending[name]

    def unit_summary(self, u, contents=False):
        unschedulable = self.reasons.get(u["name"], {}).get("state") == "unschedulable"
        placed = u["desiredState"] != "inactive" and not unschedulable
        s = {"name": u["name"], "hash": u["hash"], "desiredState": u["desiredState"],
             "currentState": u["desiredState"] if placed else "inactive",
             "machines": [self.machine_of(u["name"])] if placed else []}
        if contents:
            s["contents"] = u["contents"]
        if u["name"] in self.reasons:
            s["placement"] = self.reasons[u["name"]]
        return s

    def put_unit(self, name, body):
        if not UNIT_NAME.match(name):
            raise FakeError(400, "bad_unit_name", "unit name '%s' is not valid" % name)
        if not isinstance(body, dict) or set(body) - {"contents", "desiredState", "replace"}:
            raise FakeError(400, "bad_request", "Body must be a JSON object with contents, desiredState, replace.")
        contents, desired, replace = body.get("contents"), body.get("desiredState"), body.get("replace", False)
        if desired not in (None, "inactive", "loaded", "launched"):
            raise FakeError(400, "bad_request", "Invalid desiredState: expected inactive, loaded or launched.")
        if "@." in name and desired in ("loaded", "launched"):
            raise FakeError(400, "bad_request", "%s is a template: start an instance of it instead." % name)
        u = self.units.get(name)
        if u and contents is not None and sha256(contents) != u["hash"]:
            return self.replace_unit(u, contents, desired, replace)
        if not u:
            if contents is None:
                t = self.units.get(template_of(name) or "")
                if not t:
                    raise FakeError(404, "not_found", "No unit %s%s, and no contents given."
                                    % (name, " (nor its template)" if template_of(name) else ""))
                contents = t["contents"]
            u = self.units[name] = {"name": name, "contents": contents, "hash": sha256(contents),
                                    "desiredState": "inactive"}
            status = 201
        else:
            status = 200
        if desired is not None and desired != u["desiredState"]:
            self.change_desired(name, desired)
        return status, {"name": name, "hash": u["hash"], "desiredState": u["desiredState"]}

    def replace_unit(self, u, contents, desired, replace):
        """Other contents for unit u: as fleetd, only with replace, and not by one desired less."""
        name, order = u["name"], ["inactive", "loaded", "launched"]
        if not replace:
            raise FakeError(409, "conflict", "Unit %s already exists with different contents; destroy it first." % name)
        if order.index(desired or "inactive") < order.index(u["desiredState"]):
            raise FakeError(409, "conflict", "Unit %s is %s: only a unit desired %s may replace it (%s --replace)."
                            % (name, u["desiredState"], u["desiredState"],
                               "start" if u["desiredState"] == "launched" else "load"))
        u["contents"], u["hash"] = contents, sha256(contents)
        # the machine reports the old contents until it has restarted the unit
        self.change_desired(name, desired or u["desiredState"])
        return 200, {"name": name, "hash": u["hash"], "desiredState": u["desiredState"], "replaced": True}

    def list_units(self, query):
        names = sorted(n for n in self.units if n >= query.get("from", ""))
        limit = min(int(query.get("limit", self.page)), self.page)
        body = {"units": [self.unit_summary(self.units[n]) for n in names[:limit]]}
        if len(names) > limit:
            body["next"] = names[limit]
        return 200, body

    def get_state(self, query):
        name = query.get("unit")
        if name is not None:
            self.poll(name)
            records = [self.states[name]] if name in self.states else []
        else:
            records = [self.states[n] for n in sorted(self.states)]
        return 200, {"states": records}

    def get_status(self, name):
        st = self.status.get(name)
        if st is None:
            if name not in self.units or name in self.reasons:
                raise FakeError(404, "not_found", "No unit %s." % name)
            raise FakeError(409, "conflict", "Unit %s is not loaded on any machine." % name)
        st = dict(st)
        for k, v in st.items():
            if k.endswith("Timestamp") and isinstance(v, int) and v < 0:
                st[k] = now_usec() + v
        return 200, st

    def handle(self, method, path, query, body, content_type=None):
        """Returns (status, JSON answer) or raises FakeError."""
        seg = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
        if seg[:2] == ["v1", "apps"]:
            return self.apps.handle(method, seg[2:], query, body, content_type)
        if seg == ["v1", "machines"] and method == "GET":
            return 200, {"machines": self.machines}
        if seg == ["v1", "routes"] and method == "GET":
            app = query.get("app")
            return 200, {"routes": [r for r in self.routes if app is None or r.get("app") == app]}
        if seg == ["v1", "units"] and method == "GET":
            return self.list_units(query)
        if seg == ["v1", "state"] and method == "GET":
            return self.get_state(query)
        if len(seg) == 3 and seg[:2] == ["v1", "units"]:
            name = seg[2]
            if method == "PUT":
                return self.put_unit(name, body)
            if name not in self.units:
                raise FakeError(404, "not_found", "No unit %s." % name)
            if method == "GET":
                return 200, self.unit_summary(self.units[name], contents=True)
            if method == "DELETE":
                del self.units[name]
                self.states.pop(name, None)
                return 200, {"destroyed": name}
        if len(seg) == 4 and seg[:2] == ["v1", "units"] and seg[3] == "status" and method == "GET":
            return self.get_status(seg[2])
        raise FakeError(404, "not_found", "No such API path.")

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fake_manifest(text, filename):
    """The little of a manifest FakeApps needs, from the simple YAML the tests write: top-level
    app and image, KEY: value lines under config, "name: {port: N, scale: N}" under processes.
    A scale that is not a number is a bad_manifest error with its position, as fleetd says it."""
    m = {"app": None, "image": None, "config": {}, "processes": []}
    section = None
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.strip().partition(":")
        key, value = key.strip().strip("'\""), value.split(" #")[0].strip()
        if not line.startswith(" "):
            section = key
            if key in ("app", "image"):
                m[key] = value.strip("'\"") or None
        elif section == "config":
            m["config"][key] = value
        elif section == "processes":
            scale = re.search(r"scale: *([^,}]*)", value)
            if scale and not scale.group(1).strip().isdigit():
                where = "%s:%d:%d: processes.%s.scale" % (filename, n, line.index("scale:") + 8, key)
                raise FakeError(400, "bad_manifest", "%s: expected a whole number from 0 to 1000, got '%s'"
                                % (where, scale.group(1).strip()))
            port = re.search(r"port: *(\d+)", value)
            m["processes"].append({"name": key, "port": int(port.group(1)) if port else 0,
                                   "scale": int(scale.group(1)) if scale else 1})
    if not m["app"]:
        raise FakeError(400, "bad_manifest", "%s:1:1: missing app; expected app: NAME, such as app: hello" % filename)
    return m


class FakeApps:
    """The apps API of docs/api.md in memory. An app is {"record": the app object, "releases":
    [...], "instances": [...], "steps": [...]}; after a change, each GET /v1/apps/<app> takes
    one step towards what it should run, so that fleetctl sees a rollout go by.

    Scenario keys (all optional): apps {name: {record, releases, instances}} to start from (a
    negative created_usec is that many usec before now); rollout_polls (default 2: the GETs a
    rollout or scale takes); fail {app: [versions]}: the rollout of those releases fails, one
    new instance failing at the second GET, and rolls back to a copy of the release before."""

    def __init__(self, machines, scenario):
        self.machines = machines
        self.polls = scenario.get("rollout_polls", 2)
        self.fail = scenario.get("fail", {})
        self.apps = {}
        for name, a in scenario.get("apps", {}).items():
            releases = [dict(r) for r in a.get("releases", [])]
            for r in releases:
                if r.get("created_usec", 0) < 0:
                    r["created_usec"] += now_usec()
            record = {"name": name, "release": 0, "latest": 0, "scale": {}, "restartBelow": {}, "nextIndex": 1,
                      "rollout": {"state": "none", "from": 0, "rollbackOf": 0}, "created": 1, "updated": 1}
            record.update(a.get("record", {}))
            self.apps[name] = {"record": record, "releases": releases, "instances": a.get("instances", []),
                               "steps": []}

    # --- helpers ---

    def get(self, name):
        a = self.apps.get(name)
        if not a:
            raise FakeError(404, "not_found", "No app %s." % name)
        return a

    def current(self, a):
        v = a["record"]["release"]
        return a["releases"][v - 1] if v > 0 else None

    def new_instance(self, a, process):
        rec, idx = a["record"], a["record"]["nextIndex"]
        rec["nextIndex"] += 1
        m = self.machines[(idx - 1) % len(self.machines)]
        i = {"unit": "%s_v%d.%s@%d.service" % (rec["name"], rec["release"], process["name"], idx),
             "release": rec["release"], "process": process["name"], "index": idx, "machine": m["id"],
             "hostname": m["hostname"], "ip": m["ip"], "hash": "h", "load": "loaded", "active": "activating",
             "sub": "start", "since": 1}
        if process["port"]:
            i["port"] = 20000 + idx
            i["health"] = "starting"
        return i

    @staticmethod
    def healthy(i):
        i = dict(i, active="active", sub="running")
        if "health" in i:
            i["health"] = "passing"
        return i

    def converge(self, a, replace=()):
        """Steps from the instances there are to those the record asks for: kept ones, and new
        ones (all of the processes in replace) that start and become healthy along the polls."""
        rec, rel, old = a["record"], self.current(a), [dict(i) for i in a["instances"]]
        keep, new = [], []
        for p in rel["processes"]:
            want = rec["scale"].get(p["name"], 0)
            mine = [i for i in old if i["process"] == p["name"] and i["release"] == rec["release"]
                    and p["name"] not in replace and i["index"] >= rec["restartBelow"].get(p["name"], 0)]
            keep += mine[:want]
            new += [self.new_instance(a, p) for _ in range(want - len(mine[:want]))]
        if rec["release"] in self.fail.get(rec["name"], []) and rec["rollout"]["state"] == "rolling" and new:
            return self.failing(a, old, new)
        steps = []
        for k in range(1, self.polls):
            n = len(new) * k // self.polls
            steps.append(self.show(old + [self.healthy(i) if j < n else i for j, i in enumerate(new)]))
        steps.append(self.show([self.healthy(i) for i in keep + new], end=True))
        a["steps"] = steps

    def show(self, instances, end=False):
        def step(a):
            a["instances"] = instances
            r = a["record"]["rollout"]
            if end and r["state"] == "rolling":
                r["state"] = "failed" if r["rollbackOf"] else "done"
                if not r["rollbackOf"]:
                    r["message"] = "v%d is running" % a["record"]["release"]
        return step

    def failing(self, a, old, new):
        """A new instance fails: fleetd makes a copy of the release before and rolls back to it."""
        failed = [dict(new[0], active="failed", sub="failed")] + new[1:]

        def rollback(a):
            rec = a["record"]
            a["instances"] = old + failed
            why = "failed: %s failed" % failed[0]["unit"]
            if not rec["rollout"]["from"]:
                rec["rollout"].update(state="failed",
                                      message="v%d %s; nothing to roll back to" % (rec["release"], why))
                return
            prev = a["releases"][rec["rollout"]["from"] - 1]
            copy = dict(prev, version=rec["latest"] + 1, created_usec=now_usec(),
                        cause="automatic rollback to v%d: v%d %s" % (prev["version"], rec["release"], why))
            a["releases"].append(copy)
            rec["rollout"] = {"state": "rolling", "from": rec["release"], "rollbackOf": rec["release"],
                              "message": "v%d %s; rolling back to v%d (a copy of v%d)"
                              % (rec["release"], why, copy["version"], prev["version"])}
            rec["release"] = rec["latest"] = copy["version"]
            self.converge(a)
            a["instances"] = old + failed   # what the next steps start from

        a["steps"] = [self.show(old + new), rollback]

    def release(self, a, base, cause):
        """A new release copying base, and a rollout to it."""
        rec = a["record"]
        rel = dict(base, app=rec["name"], version=rec["latest"] + 1, cause=cause, created_usec=now_usec())
        a["releases"].append(rel)
        rec["rollout"] = {"state": "rolling", "from": rec["release"], "rollbackOf": 0,
                          "message": "rolling out v%d: %s" % (rel["version"], cause)}
        rec["release"] = rec["latest"] = rel["version"]
        self.converge(a)

    def answer(self, a, new_release, status=200):
        return status, dict(a["record"], newRelease=new_release)

    @staticmethod
    def build(rel):
        return (rel["image"], sorted(rel["config"].items()),
                sorted((p["name"], p["port"]) for p in rel["processes"]))

    # --- the routes ---

    def handle(self, method, seg, query, body, content_type):
        if not seg:
            if method == "GET":
                return 200, {"apps": [self.apps[n]["record"] for n in sorted(self.apps)]}
            raise FakeError(405, "method_not_allowed", "Method not allowed.")
        name, rest = seg[0], seg[1:]
        if not APP_NAME.match(name):
            raise FakeError(400, "bad_request", "Invalid app name '%s': expected [a-z][a-z0-9-]*, at most 40 "
                            "characters." % name)
        route = (method, rest[0] if rest else "")
        if route == ("POST", "deploy"):
            return self.deploy(name, query, body, content_type)
        a = self.get(name)
        if route == ("GET", ""):
            if a["steps"]:
                a["steps"].pop(0)(a)
            return 200, dict(a["record"], instances=a["instances"])
        if route == ("DELETE", ""):
            del self.apps[name]
            return 200, {"destroyed": name, "releases": len(a["releases"]), "units": len(a["instances"])}
        if route == ("GET", "releases"):
            if not a["releases"]:
                raise FakeError(404, "not_found", "App %s has no releases." % name)
            return 200, {"releases": a["releases"][::-1]}
        handlers = {("PUT", "scale"): self.scale, ("POST", "config"): self.config,
                    ("POST", "rollback"): self.rollback, ("POST", "restart"): self.restart}
        if route not in handlers:
            raise FakeError(404, "not_found", "No such API path.")
        if not isinstance(body, dict):
            raise FakeError(400, "bad_request", "Body must be a JSON object.")
        return handlers[route](a, body)

    def deploy(self, name, query, body, content_type):
        if content_type != "application/yaml":
            raise FakeError(415, "bad_request", "expected a YAML manifest, not %s" % content_type)
        if isinstance(body, dict):   # a manifest written as JSON, which is YAML too
            m = {"app": body.get("app"), "image": body.get("image"), "config": body.get("config", {}),
                 "processes": [{"name": k, "port": v.get("port", 0), "scale": v.get("scale", 1)}
                               for k, v in body.get("processes", {}).items()]}
        else:
            m = fake_manifest(body or "", query.get("file", "manifest"))
        if m["app"] != name:
            raise FakeError(400, "bad_request", "The manifest is for app '%s', not '%s'." % (m["app"], name))
        created = name not in self.apps
        if created:
            self.apps[name] = {"record": {"name": name, "release": 0, "latest": 0, "scale": {}, "restartBelow": {},
                                          "nextIndex": 1, "rollout": {"state": "none", "from": 0, "rollbackOf": 0},
                                          "created": now_usec(), "updated": now_usec()},
                               "releases": [], "instances": [], "steps": []}
        a = self.apps[name]
        for p in m["processes"]:
            a["record"]["scale"][p["name"]] = p["scale"]
        manifest = {"app": name, "image": m["image"], "runtime": "podman", "config": m["config"],
                    "processes": m["processes"]}
        cur = self.current(a)
        if cur and self.build(cur) == self.build(manifest):
            self.converge(a)
            return self.answer(a, False)
        self.release(a, manifest, "deploy")
        return self.answer(a, True, 201 if created else 200)

    def scale(self, a, body):
        rel = self.current(a)
        names = [p["name"] for p in rel["processes"]]
        for k, v in body.items():
            if k not in names:
                raise FakeError(400, "bad_request",
                                "App %s has no process '%s' in v%d." % (rel["app"], k, rel["version"]))
            if not isinstance(v, int) or v < 0 or v > 1000:
                raise FakeError(400, "bad_request", "Scale of %s must be a whole number from 0 to 1000." % k)
        a["record"]["scale"].update(body)
        self.converge(a)
        return self.answer(a, False)

    def config(self, a, body):
        cur = self.current(a)
        config, cause = dict(cur["config"]), "config"
        for k, v in body.get("set", {}).items():
            if not CONFIG_KEY.match(k) or k == "PORT":
                raise FakeError(400, "bad_request", "Config key '%s' must match [A-Za-z_][A-Za-z0-9_]* (not PORT) "
                                "and its value be a string." % k)
            config[k] = v
            cause += " set " + k
        for k in body.get("unset", []):
            if config.pop(k, None) is not None:
                cause += " unset " + k
        if config == cur["config"]:
            return self.answer(a, False)
        self.release(a, dict(cur, config=config), cause)
        return self.answer(a, True)

    def rollback(self, a, body):
        rec = a["record"]
        v = body.get("version", rec["release"] - 1)
        if "version" in body and (not isinstance(v, int) or v < 1 or v > rec["latest"]):
            raise FakeError(400, "bad_request", "version must be a release from 1 to %d." % rec["latest"])
        if v < 1:
            raise FakeError(409, "conflict", "App %s has no release before v%d." % (rec["name"], rec["release"]))
        self.release(a, a["releases"][v - 1], "rollback to v%d" % v)
        return self.answer(a, True)

    def restart(self, a, body):
        rec, only = a["record"], body.get("process")
        names = [p["name"] for p in self.current(a)["processes"]]
        if only and only not in names:
            raise FakeError(400, "bad_request", "App %s has no process '%s'." % (rec["name"], only))
        for p in names:
            if not only or p == only:
                rec["restartBelow"][p] = rec["nextIndex"]
        rec["rollout"] = {"state": "rolling", "from": rec["release"], "rollbackOf": 0,
                          "message": "restarting %s" % (only or "every process")}
        self.converge(a, replace=[only] if only else names)
        return self.answer(a, False)


UP_HOSTS = [   # node-a and node-b share the id prefix "a1"
    {"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "hostname": "node-a", "ip": "10.0.1.1"},
    {"id": "a1c3e5f7091b2d3f4a5b6c7d8e9f0a1b", "hostname": "node-b", "ip": "10.0.1.2"},
    {"id": "c0ffee00112233445566778899aabbcc", "hostname": "node-c", "ip": "10.0.1.3"},
]
LOCK_GROUP = re.compile(r"^[a-zA-Z0-9.-]{1,64}$")


class FakeUpgrade:
    """Rolling host upgrades in memory, for test-fleetctl-upgrade.sh: machines with boot ids,
    drains that advance one step at each GET /v1/machines/<id>/drain, reboot slots, reboots,
    the rebalance after an uncordon, and the units and app instances that move meanwhile. It
    logs requests as FakeFleet does (DIR/requests) and is reset the same way.

    Scenario keys (all optional; hosts are named by hostname): hosts [{id, hostname, ip}]
    (default UP_HOSTS); units {name: hostname | "global"}; stuck {unit: why it cannot move};
    apps {app: {process: [hostname per instance]}}; locks {group: {max, holders}} (a negative
    since is that many usec before now); reboot
    {hostname: polls}: after a reboot request GET /v1/machines/<id> answers 404 that many times,
    then the machine is back with a new boot id (default 1; -1: never back; 0: it does not
    reboot at all; "unreachable": the request fails, 502); self: the hostname GET /v1/status names; drains {id: record}: drains of
    machines that are down (not in hosts); frozen: drains make no progress; no_boot_id: machine
    records without bootId; no_rebalancing_field: the status of a machine that does not drain
    does not say whether a rebalance goes on (fleetd's API does not, yet)."""

    def __init__(self, directory):
        self.directory = directory
        self.log_path = os.path.join(directory, "requests")
        self.lock = threading.Lock()
        self.journal = {}
        self.reset({})

    log = FakeFleet.log

    def reset(self, scenario):
        self.hosts = [dict(h) for h in scenario.get("hosts", UP_HOSTS)]
        for n, h in enumerate(self.hosts):
            h.update(metadata={}, version="0.1.0", state="active", fleetlockId="f" * 31 + str(n))
            if not scenario.get("no_boot_id"):
                h["bootId"] = "00000001-0000-4000-8000-%012x" % n
        self.by_name = {h["hostname"]: h["id"] for h in self.hosts}
        self.down = {}           # id -> GETs of it still to answer 404 (-1: forever)
        self.drains = {k: dict(v, machine=k) for k, v in scenario.get("drains", {}).items()}
        self.plans = {}          # id -> the steps left of its drain
        self.rebalancing = set()   # the ids uncordoned with a rebalance, until nothing is left to move
        self.rebalance_step = None
        self.stuck = scenario.get("stuck", {})
        self.frozen = scenario.get("frozen", False)
        self.no_rebalancing_field = scenario.get("no_rebalancing_field", False)
        self.reboots = scenario.get("reboot", {})
        self.self_id = self.by_name.get(scenario.get("self"))
        self.units = {}
        for name, where in scenario.get("units", {}).items():
            glob = where == "global"
            self.units[name] = {"name": name, "global": glob, "machines": [] if glob else [self.by_name[where]]}
        self.apps = {}
        for app, procs in scenario.get("apps", {}).items():
            a = self.apps[app] = {"record": {"name": app, "release": 1, "latest": 1, "scale": {}, "restartBelow": {},
                                             "nextIndex": 1, "rollout": {"state": "done", "from": 0, "rollbackOf": 0}},
                                  "instances": []}
            for proc, where in procs.items():
                a["record"]["scale"][proc] = len(where)
                for host in where:
                    self.new_instance(app, proc, self.by_name[host], healthy=True)
        self.locks = {g: {"group": g, "max": v.get("max", 1), "holders": v.get("holders", [])}
                      for g, v in scenario.get("locks", {}).items()}
        for lock in self.locks.values():
            for h in lock["holders"]:
                if h.get("since", 0) < 0:   # that many usec ago
                    h["since"] += now_usec()
        with open(self.log_path, "w"):
            pass

    # --- the cluster ---

    def present(self):
        return [h for h in self.hosts if h["id"] not in self.down]

    def host(self, mid):
        return next((h for h in self.present() if h["id"] == mid), None)

    def schedulable(self, but=None):
        return [h["id"] for h in self.present() if h["id"] not in self.drains and h["id"] != but]

    def load(self, mid):
        return (sum(mid in u["machines"] for u in self.units.values() if not u["global"]) +
                sum(i["machine"] == mid for a in self.apps.values() for i in a["instances"]))

    def least_loaded(self, but):
        ids = self.schedulable(but)
        return min(ids, key=lambda m: (self.load(m), m)) if ids else None

    def new_instance(self, app, proc, mid, healthy=False):
        rec = self.apps[app]["record"]
        idx, rec["nextIndex"] = rec["nextIndex"], rec["nextIndex"] + 1
        h = next(x for x in self.hosts if x["id"] == mid)
        i = {"unit": "%s_v1.%s@%d.service" % (app, proc, idx), "release": 1, "process": proc, "index": idx,
             "machine": mid, "hostname": h["hostname"], "ip": h["ip"], "port": 20000 + idx, "hash": "h",
             "load": "loaded", "active": "activating", "sub": "start", "health": "starting", "since": 1}
        if healthy:
            i.update(active="active", sub="running", health="passing")
        self.apps[app]["instances"].append(i)
        return i

    def instances_on(self, mid):
        return [(app, i) for app, a in self.apps.items() for i in a["instances"] if i["machine"] == mid]

    def plain_on(self, mid):
        return [n for n, u in sorted(self.units.items()) if not u["global"] and mid in u["machines"]]

    # --- drains ---

    def drain(self, mid, body):
        if not self.host(mid):
            raise FakeError(404, "not_found", "No machine %s." % mid)
        body = body if isinstance(body, dict) else {}
        force = bool(body.get("force"))
        if mid in self.drains:
            d = self.drains[mid]
            if force and not d["force"]:   # drained again with force: what is stuck stops
                d["force"] = True
                self.plans.setdefault(mid, []).extend(["stop", n] for n in self.plain_on(mid) if n in self.stuck)
            return 200, d
        if not self.schedulable(mid) and not force:
            stop = self.plain_on(mid) + [i["unit"] for _, i in self.instances_on(mid)]
            raise FakeError(409, "conflict", "%s is the last machine that can take work: draining it would stop %s."
                            % (self.host(mid)["hostname"], ", ".join(stop) or "nothing"))
        self.drains[mid] = {"machine": mid, "since": now_usec(), "by": "fleetctl", "force": force,
                            "source": body.get("source", "fleetctl")}
        plan = []
        for name in self.plain_on(mid):
            if name not in self.stuck:
                plan.append(["move", name])
            elif force:
                plan.append(["stop", name])
        plan += [["replace", app, i["unit"]] for app, i in self.instances_on(mid)]
        self.plans[mid] = plan
        return 200, self.drains[mid]

    def replace_step(self, step, mid):
        """Two looks: the replacement starts; then it is healthy and the old instance goes."""
        app, unit = step[1], step[2]
        a = self.apps[app]
        old = next((i for i in a["instances"] if i["unit"] == unit), None)
        if len(step) == 3:
            if not old:
                return True
            target = self.least_loaded(old["machine"])
            step.append(self.new_instance(app, old["process"], target)["unit"])
            return False
        new = next((i for i in a["instances"] if i["unit"] == step[3]), None)
        if old and new:
            new.update(active="active", sub="running", health="passing")
            a["instances"].remove(old)
        elif new:   # another host's drain replaced old meanwhile: new is one too many
            a["instances"].remove(new)
        return True

    def drain_step(self, mid):
        plan = self.plans.get(mid)
        if self.frozen or not plan:
            return
        step = plan[0]
        target = self.least_loaded(mid)
        if step[0] == "move" and target:
            self.units[step[1]]["machines"] = [target]
            self.units[step[1]]["state"] = {target: "active"}
        elif step[0] in ("move", "stop"):   # nowhere to go: a forced drain of the last machine
            self.units[step[1]]["machines"] = []
        elif not self.replace_step(step, mid):
            return
        plan.pop(0)

    def drain_status(self, mid):
        d = self.drains[mid]
        name = self.host(mid)["hostname"] if self.host(mid) else mid
        remaining, blocked = [], []
        for n in self.plain_on(mid):
            stuck = n in self.stuck and not d["force"]
            remaining.append({"unit": n, "kind": "unit", "state": "stuck" if stuck else "moving"})
            if stuck:
                blocked.append({"unit": n, "reason": "cannot move off draining %s: %s" % (name, self.stuck[n])})
        remaining += [{"unit": i["unit"], "kind": "app", "state": "replacing"} for _, i in self.instances_on(mid)]
        state = "drained" if not remaining else "blocked" if len(blocked) == len(remaining) else "draining"
        return dict(d, draining=True, state=state, remaining=remaining, blocked=blocked)

    def spread_step(self):
        """One replacement towards a better spread, or None when every process is spread."""
        ids = self.schedulable()
        for app in sorted(self.apps):
            a = self.apps[app]
            for proc in sorted(a["record"]["scale"]):
                count = {m: sum(i["machine"] == m and i["process"] == proc for i in a["instances"]) for m in ids}
                if not count or max(count.values()) - min(count.values()) < 2:
                    continue
                most = max(sorted(count), key=lambda m: count[m])
                least = min(sorted(count), key=lambda m: count[m])
                old = next(i for i in a["instances"] if i["machine"] == most and i["process"] == proc)
                return ["replace", app, old["unit"], self.new_instance(app, proc, least)["unit"]]
        return None

    def rebalance_status(self, mid):
        """One rebalancer for the cluster (the leader's): a replacement at a time."""
        if mid in self.rebalancing:
            if self.rebalance_step:
                self.replace_step(self.rebalance_step, mid)
                self.rebalance_step = None
            else:
                self.rebalance_step = self.spread_step()
                if not self.rebalance_step:
                    self.rebalancing.clear()
        status = {"machine": mid, "draining": False, "state": "active", "remaining": [], "blocked": []}
        if not self.no_rebalancing_field:
            status["rebalancing"] = mid in self.rebalancing
        return status

    def get_drain(self, mid):
        if mid in self.drains:
            self.drain_step(mid)
            return 200, self.drain_status(mid)
        if not self.host(mid):
            raise FakeError(404, "not_found", "No machine %s." % mid)
        return 200, self.rebalance_status(mid)

    def uncordon(self, mid, query):
        if mid not in self.drains:
            if not self.host(mid):
                raise FakeError(404, "not_found", "No machine %s." % mid)
            return 200, {"machine": mid, "uncordoned": False, "rebalance": False}
        del self.drains[mid]
        self.plans.pop(mid, None)
        rebalance = query.get("rebalance") != "0"
        if rebalance and self.host(mid):
            self.rebalancing.add(mid)
        return 200, {"machine": mid, "uncordoned": True, "rebalance": rebalance}

    # --- reboots ---

    def reboot(self, mid):
        h = self.host(mid)
        if not h:
            raise FakeError(404, "not_found", "No machine %s." % mid)
        if mid not in self.drains or self.drain_status(mid)["state"] != "drained":
            raise FakeError(409, "conflict", "Machine %s (%s) is not drained: drain it first, or reboot it with force."
                            % (mid, h["hostname"]))
        polls = self.reboots.get(h["hostname"], 1)
        if polls == "unreachable":
            raise FakeError(502, "bad_gateway", "The fleetd of %s cannot be reached." % h["hostname"])
        if polls != 0:
            self.down[mid] = polls
        return 202, {"machine": mid, "rebooting": True}

    def get_machine(self, mid):
        left = self.down.get(mid)
        if left is not None:
            if left == 0:
                del self.down[mid]
                h = next(x for x in self.hosts if x["id"] == mid)
                if "bootId" in h:
                    h["bootId"] = "%08x" % (int(h["bootId"][:8], 16) + 1) + h["bootId"][8:]
            else:
                self.down[mid] = left - 1 if left > 0 else left
                raise FakeError(404, "not_found", "No machine %s." % mid)
        return self.machine_json(mid)

    def machine_json(self, mid):
        h = self.host(mid)
        if not h:
            raise FakeError(404, "not_found", "No machine %s." % mid)
        m = dict(h)
        if mid in self.drains:
            m.update(state="draining", drain=self.drains[mid])
        return 200, m

    # --- units, states, apps ---

    def list_units(self):
        units = []
        for n, u in self.units.items():
            machines = [h["id"] for h in self.present()] if u["global"] else u["machines"]
            units.append({"name": n, "hash": "h", "desiredState": "launched", "machines": machines,
                          "currentState": "launched" if machines else "inactive"})
        for app, a in self.apps.items():
            units += [{"name": i["unit"], "hash": "h", "desiredState": "launched", "app": app, "release": "1",
                       "machines": [i["machine"]], "currentState": "launched"} for i in a["instances"]]
        return 200, {"units": sorted(units, key=lambda u: u["name"])}

    def get_state(self, query):
        u = self.units.get(query.get("unit"))
        states = [{"name": u["name"], "machine": m, "hash": "h", "load": "loaded", "active": active,
                   "sub": "running", "since": now_usec()} for m, active in sorted(u.get("state", {}).items())] if u else []
        return 200, {"states": states}

    def get_app(self, name):
        a = self.apps.get(name)
        if not a:
            raise FakeError(404, "not_found", "No app %s." % name)
        return 200, dict(a["record"], instances=a["instances"])

    # --- reboot slots ---

    def group(self, g):
        if not LOCK_GROUP.match(g):
            raise FakeError(400, "bad_request", "Invalid group '%s'." % g)
        return self.locks.get(g, {"group": g, "max": 1, "holders": []})

    def set_max(self, g, body):
        lock = self.group(g)
        n = body.get("max") if isinstance(body, dict) else None
        if not isinstance(n, int) or n < 1 or n > 1000:
            raise FakeError(400, "bad_request", "max must be a whole number from 1 to 1000.")
        lock["max"] = n
        self.locks[g] = lock
        return 200, lock

    def take_slot(self, g, body):
        lock = self.group(g)
        hid = body.get("id") if isinstance(body, dict) else None
        if any(h["id"] == hid for h in lock["holders"]):
            return 200, lock
        if len(lock["holders"]) >= lock["max"]:
            raise FakeError(409, "failed_lock_semaphore_full", "Every slot of group %s is held." % g)
        holder = {"id": hid, "since": now_usec(), "by": "fleetctl"}
        if any(h["id"] == hid for h in self.hosts):
            holder["machine"] = hid
        lock["holders"].append(holder)
        self.locks[g] = lock
        return 200, lock

    def release_slot(self, g, hid):
        lock = self.group(g)
        lock["holders"] = [h for h in lock["holders"] if h["id"] != hid]
        return 200, lock

    def handle(self, method, path, query, body, content_type=None):
        seg = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
        route = (method,) + tuple(x if k != 2 else "*" for k, x in enumerate(seg))
        if seg[:1] != ["v1"]:
            raise FakeError(404, "not_found", "No such API path.")
        if route == ("GET", "v1", "status"):
            if not self.self_id:
                raise FakeError(404, "not_found", "No such API path.")
            return 200, {"machine": self.machine_json(self.self_id)[1], "registered": True}
        if route == ("GET", "v1", "machines"):
            return 200, {"machines": [self.machine_json(h["id"])[1] for h in sorted(self.present(), key=lambda h: h["id"])]}
        if route == ("GET", "v1", "drains"):
            return 200, {"drains": [self.drains[k] for k in sorted(self.drains)]}
        if route == ("GET", "v1", "units"):
            return self.list_units()
        if route == ("GET", "v1", "state"):
            return self.get_state(query)
        if route == ("GET", "v1", "apps"):
            return 200, {"apps": [self.apps[n]["record"] for n in sorted(self.apps)]}
        if route == ("GET", "v1", "apps", "*"):
            return self.get_app(seg[2])
        if route == ("GET", "v1", "locks"):
            return 200, {"locks": [self.locks[g] for g in sorted(self.locks)]}
        if seg[1:2] == ["locks"] and len(seg) >= 3:
            return self.handle_locks(method, seg[2], seg[3:], body)
        if seg[1:2] == ["machines"] and len(seg) >= 3:
            return self.handle_machine(method, seg[2], seg[3:], query, body)
        raise FakeError(404, "not_found", "No such API path.")

    def handle_locks(self, method, g, rest, body):
        if method == "GET" and not rest:
            return 200, self.group(g)
        if method == "PUT" and not rest:
            return self.set_max(g, body)
        if method == "POST" and rest == ["holders"]:
            return self.take_slot(g, body)
        if method == "DELETE" and len(rest) == 2 and rest[0] == "holders":
            return self.release_slot(g, rest[1])
        raise FakeError(404, "not_found", "No such API path.")

    def handle_machine(self, method, mid, rest, query, body):
        if method == "GET" and not rest:
            return self.get_machine(mid)
        if rest == ["drain"] and method == "POST":
            return self.drain(mid, body)
        if rest == ["drain"] and method == "GET":
            return self.get_drain(mid)
        if rest == ["drain"] and method == "DELETE":
            return self.uncordon(mid, query)
        if rest == ["reboot"] and method == "POST":
            return self.reboot(mid)
        raise FakeError(404, "not_found", "No such API path.")


class FakeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fleet = None   # set by main()

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def journal(self, name, query):
        lines = self.fleet.journal.get(name)
        if lines is None:
            raise FakeError(404, "not_found", "No unit %s." % name)
        n = int(query.get("lines", "10"))
        text = "".join(line + "\n" for line in (lines[-n:] if n > 0 else []))
        if query.get("follow") != "1":
            return self.reply(200, text.encode(), "text/plain; charset=utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(text)
        release = os.path.join(self.fleet.directory, "journal-release")
        for _ in range(200):
            if os.path.exists(release):
                break
            time.sleep(0.05)
        for line in self.fleet.journal_follow.get(name, []):
            self.chunk(line + "\n")
        self.wfile.write(b"0\r\n\r\n")

    def serve(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        if url.path == "/_fixture/reset":
            with self.fleet.lock:
                self.fleet.reset(body or {})
            return self.reply(200, {})
        with self.fleet.lock:
            self.fleet.log(method, self.path, body)
        seg = url.path.split("/")
        try:
            if method == "GET" and len(seg) == 5 and seg[1:3] == ["v1", "units"] and seg[4] == "journal":
                return self.journal(urllib.parse.unquote(seg[3]), query)
            with self.fleet.lock:
                status, answer = self.fleet.handle(method, url.path, query, body, self.headers.get("Content-Type"))
        except FakeError as e:
            status, answer = e.status, {"error": {"code": e.code, "message": e.message}}
        self.reply(status, answer)

    def do_GET(self):
        self.serve("GET")

    def do_PUT(self):
        self.serve("PUT")

    def do_DELETE(self):
        self.serve("DELETE")

    def do_POST(self):
        self.serve("POST")

    def log_message(self, *args):
        pass


class UpgradeHandler(FakeHandler):
    fleet = None   # a FakeUpgrade, set by main()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


def reset(socket_path, scenario):
    c = UnixHTTPConnection(socket_path)
    c.request("POST", "/_fixture/reset", body=scenario, headers={"Content-Type": "application/json"})
    if c.getresponse().status != 200:
        sys.exit("fixture reset failed")


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True


def main():
    if sys.argv[1] == "--reset":
        return reset(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "{}")
    directory = sys.argv[1]
    servers = [UnixServer(os.path.join(directory, name + ".sock"), handler_for(name)) for name in ANSWERS]
    FakeHandler.fleet = FakeFleet(directory)
    servers.append(UnixServer(os.path.join(directory, "fake.sock"), FakeHandler))
    UpgradeHandler.fleet = FakeUpgrade(directory)
    servers.append(UnixServer(os.path.join(directory, "upgrade.sock"), UpgradeHandler))
    tcp = TCPServer(("127.0.0.1", 0), handler_for("ok"))
    servers.append(tcp)
    with open(os.path.join(directory, "tcp-port"), "w") as f:
        f.write(str(tcp.server_address[1]))
    tls = os.path.join(directory, "tls")
    if os.path.exists(os.path.join(tls, "server.key")):
        https = TCPServer(("127.0.0.1", 0), handler_for("ok"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(tls, "server.pem"), os.path.join(tls, "server.key"))
        context.load_verify_locations(os.path.join(tls, "ca.pem"))
        context.verify_mode = ssl.CERT_REQUIRED
        https.socket = context.wrap_socket(https.socket, server_side=True)
        servers.append(https)
        with open(os.path.join(directory, "tls-port"), "w") as f:
            f.write(str(https.server_address[1]))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
