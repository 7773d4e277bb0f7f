/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The unit generator: one instance of one process type of a release -> the systemd unit that runs
 * it. PURE: values in, a UnitFile out; no I/O, no logging, and the same input always gives the
 * same text (so the unit's hash only changes when the release does).
 *
 * Unit name and placement
 *   - "<app>_v<N>.<process>@<i>.service" (release_instance_name()), instances counted from 1;
 *     [Unit] Description= "hello v3 web #2".
 *   - [X-Fleet] MachineMetadata=k=v, one line per constraint, nothing else: no Conflicts=, since
 *     the scheduler spreads the instances of one template over machines by itself.
 *   - resources go where the engine reads capacity: [Service] MemoryMax=<bytes> and
 *     CPUQuota=<percent>%, the percent rounded up to a whole one (250 millicores -> 25%,
 *     125 -> 13%), so that the engine never counts less than was declared. For podman and docker
 *     they bind the runtime's own processes in the unit (conmon, the CLI), so a limit of a few MiB
 *     would starve those; the container gets the same limits through the runtime's flags.
 *   - health checks are not in the unit: the agent probes $PORT and routes only healthy
 *     instances. scale, the rollout settings and the manifest's port number are not used here.
 *
 * Every runtime
 *   - [Unit] After= and Wants=network-online.target; Restart=always with RestartSec=1s (these are
 *     long-running processes; a crash loop still ends in "failed" through systemd's start
 *     limit, which the rollout watches); SuccessExitStatus=143, so that a process that exits
 *     128+SIGTERM on a stop leaves the unit inactive, not failed; TimeoutStartSec=60s, or 5min
 *     when the unit pulls its image first.
 *   - Port: with a port, EnvironmentFile=UNIT_GEN_PORTS_DIR/%n.env. The agent assigns a free host
 *     port and writes "PORT=<n>" there before it starts the unit (without the file the start
 *     fails rather than run on a wrong port); the process gets $PORT and, on the host network,
 *     listens on it. The port number in the manifest is not used here.
 *   - Command: argv as written, each word escaped for systemd (basic/unit-escape.h). The only
 *     thing systemd expands is the literal "${PORT}"; every other '$' is written "$$", every
 *     '%' "%%". "${PORT}" in a process without a port is an error. No shell is ever added.
 *   - Config: each entry is one Environment="KEY=value" line (values pass systemd's quoting and
 *     specifier expansion only: Environment= does not expand '$', so "${PORT}" in a config
 *     value stays literal). Container runtimes get only the names (podman and docker --env=KEY,
 *     nspawn --setenv=KEY: each takes the value from its own environment, which is the unit's);
 *     values are never written into a command line. Values may hold any UTF-8 text with TAB and
 *     LF but no other control character: systemd before 248 drops such a variable with a
 *     warning, and CR can hide text on a terminal. A value must fit on one unit-file line
 *     (UNIT_FILE_LINE_MAX) once escaped.
 *   - Config keys that would steer the process manager or the runtime program instead of the app
 *     are refused: for every runtime NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*, FLEETD_* and PORT (the
 *     unit's own protocol with systemd and fleetd). For podman, docker and nspawn also what
 *     those programs, which run as root with the unit's environment, or their dynamic loader and
 *     language runtime read: LD_*, GCONV_PATH, GLIBC_TUNABLES, PATH, HOME, TMPDIR, XDG_*,
 *     CONTAINERS_*, CONTAINER_*, PODMAN_*, BUILDAH_*, STORAGE_DRIVER, STORAGE_OPTS,
 *     REGISTRY_AUTH_FILE, DOCKER_*, SYSTEMD_*, DBUS_*, GODEBUG, GOTRACEBACK, SSL_CERT_FILE,
 *     SSL_CERT_DIR. (LD_PRELOAD pointing into an image layer would otherwise run the deployer's
 *     code as root on the host.) The image can set those for the app itself.
 *
 * podman (default): the recipe verified in a test host, plus --network=host:
 *     Type=notify, NotifyAccess=all, KillMode=mixed, Environment=PODMAN_SYSTEMD_UNIT=%n,
 *     ExecStart=/usr/bin/podman run --name=NAME --replace --rm -d --sdnotify=conmon --init
 *       --pull=POLICY [--authfile=FILE] --network=host [--env=PORT] [--env=KEY...]
 *       [--memory=BYTES] [--cpus=N] IMAGE [COMMAND...]
 *     ExecStop=/usr/bin/podman rm -v -f -i NAME, ExecStopPost=-/usr/bin/podman rm -v -f -i NAME.
 *   NAME is "<app>_v<N>.<process>-<i>". The container's cgroup is podman's, not the unit's, so
 *   the limits are given to podman as well as written for the engine.
 * docker: no sd_notify, and the container is dockerd's child, not the unit's. Type=exec; the
 *   docker CLI stays attached (logs reach the journal through it, its exit status is the
 *   container's); After=/Wants=docker.service; ExecStartPre=-docker rm -f NAME (docker has no
 *   --replace); ExecStart=/usr/bin/docker run --rm --name=NAME --init --pull=POLICY
 *   --network=host [--env=...] [--memory=] [--cpus=] IMAGE [COMMAND...];
 *   ExecStop=-/usr/bin/docker stop NAME; ExecStopPost=-/usr/bin/docker rm -f NAME. Trade-offs:
 *   systemd supervises the CLI, not the container; if the CLI dies, the container may run on
 *   until ExecStopPost removes it; MemoryMax=/CPUQuota= bind only the CLI.
 * nspawn: the image is a directory: an absolute path, or a name under /var/lib/machines/.
 *   Type=notify, KillMode=mixed, Delegate=yes; ExecStart=/usr/bin/systemd-nspawn --quiet
 *   --keep-unit --register=no --machine=MACHINE --directory=DIR --volatile=overlay (the tree is
 *   shared by all instances and stays read-only; each instance writes to its own throw-away
 *   overlay, like a container layer) [--setenv=...], then with a command: --as-pid2
 *   --kill-signal=SIGRTMIN+3 --notify-ready=no -- COMMAND... (a stub init forwards the stop as
 *   SIGTERM to the process and reaps; ready when it is started), without one: --boot
 *   --notify-ready=yes (the image's init says when it is ready). The host network is nspawn's
 *   default. MACHINE is "<app>-v<N>.<process>-<i>" (machine names allow no '_'), at most 64
 *   characters. (Seen with systemd 252: on SIGTERM nspawn sends SIGRTMIN+3, the stub init
 *   SIGTERMs the process, and nspawn exits 0, so a stop ends "inactive"; --setenv=NAME passes
 *   values with newlines through unchanged.)
 * exec: a host program, run directly: ExecStart=COMMAND..., Type=exec (a missing program fails
 *   the start). command[0] must be an absolute path; without a command the image is that path.
 *   With a command the image is not used (it is still part of the release). Runs as root like
 *   any hand-written unit: no DynamicUser=, since a host program may need host state;
 *   isolation is what the container runtimes are for.
 *
 * Images (podman and docker): what runs is release_run_image(): the image pinned to the
 * release's digest ("REGISTRY/PATH@sha256:...") when the release has one, so that every
 * instance of a release, a rollback's included, runs exactly the bits the release was made
 * with, wherever the tag has moved since. The runtime pulls it itself, in ExecStart:
 * --pull=POLICY with release_pull_policy() (the manifest's pull:, else missing for an image of
 * a registry and never for short names and localhost/ images, which must be on the host
 * beforehand). A pull that fails fails the start, so the instance fails with the registry's
 * reason in its journal, which the agent publishes (state record "reason"). podman reads the
 * registries' credentials from UNIT_GEN_AUTH_FILE (--authfile=, whenever it may pull); docker
 * from its own configuration. */

#include "release.h"
#include "unit-file.h"

/* Where the agent writes each instance's "PORT=<n>" file, named "<unit name>.env". Fixed, not
 * taken from fleetd.conf: the unit text must be the same on every host. */
#define UNIT_GEN_PORTS_DIR "/run/fleetd/ports"

/* The registries' credentials for podman on every host (podman login --authfile FILE): root's
 * only, 0600. Fixed, as the unit text must be the same on every host; fleetd creates it empty
 * ({"auths": {}}) when it is missing, so that --authfile= never fails on a host without
 * credentials. */
#define UNIT_GEN_AUTH_FILE "/etc/fleetd/registry-auth.json"

/* Absolute paths of the runtime programs named in the units. */
#define UNIT_GEN_PODMAN "/usr/bin/podman"
#define UNIT_GEN_DOCKER "/usr/bin/docker"
#define UNIT_GEN_NSPAWN "/usr/bin/systemd-nspawn"
#define UNIT_GEN_MACHINES_DIR "/var/lib/machines"

/* The unit of instance `instance` (from 1) of process type p of release r; p need not point into
 * r->processes. On success *ret owns a new UnitFile. On failure *ret is untouched and
 * *ret_error (optional, owned by the caller) says in one line what cannot be generated and why,
 * naming the field ("process web: command uses ${PORT} but the process has no port").
 * Returns 0; -EINVAL for a release, process or instance that cannot become a unit (bad names,
 * version 0, instance 0, a runtime and image that do not fit, reserved or malformed config,
 * text that is not UTF-8, a line too long); -ENOMEM. */
/* podman and docker containers carry the label UNIT_GEN_LABEL=<app>: after a power cut the
 * containers of the instances that ran are left in the runtime's storage, and
 * units/fleetd-cleanup.service removes the stopped ones with this label at boot, before fleetd
 * starts (no fleetd unit exists then: /run is new). */
#define UNIT_GEN_LABEL "io.fleetd.app"

int unit_gen_instance(const Release *r, const ProcessType *p, unsigned instance, UnitFile **ret, char **ret_error);

/* Whether every process type of r can be generated: what the API checks before it stores a
 * release. Returns 0 or what unit_gen_instance() returns, with the same message. */
int unit_gen_check_release(const Release *r, char **ret_error);

/* UNIT_GEN_PORTS_DIR "/<unit>.env", the file that EnvironmentFile= names for unit. *ret is owned
 * by the caller. Returns 0 or -ENOMEM. */
int unit_gen_port_file(const char *unit, char **ret);

/* The name of the container (podman, docker: "<app>_v<N>.<process>-<i>") or machine (nspawn:
 * "<app>-v<N>.<process>-<i>") of an instance; other runtimes have none (-EINVAL). *ret is owned
 * by the caller. Returns 0, -EINVAL, -ENOMEM. */
int unit_gen_container_name(const Release *r, const char *process, unsigned instance, char **ret);

/* Whether the image names a registry (image_ref_has_registry()): units of it pull it by default. */
bool unit_gen_image_is_pulled(const char *image);

/* NULL if key may be a config key for runtime rt, else why not (a static string, e.g. "podman
 * itself reads it, as root"). Checks reservations only; the caller checks the key's syntax. */
const char *unit_gen_config_key_reserved(Runtime rt, const char *key);
