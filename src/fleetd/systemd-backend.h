/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent's hands on this host: unit files written to <units_dir> (default /run/fleetd/units)
 * and linked into <link_dir> (default /run/systemd/system: runtime, gone after a reboot), and
 * systemd itself over sd-bus (its private socket when we are root, else the system bus):
 * Reload, StartUnit/StopUnit/RestartUnit with job tracking, and PropertiesChanged signals for
 * the units fleetd owns, reported to the owner as they change. */

#include <jansson.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"

typedef struct SystemdBackend SystemdBackend;

typedef struct UnitStatus {
        const char *load_state;       /* loaded, not-found, error, masked */
        const char *active_state;     /* active, inactive, failed, activating, deactivating, reloading */
        const char *sub_state;        /* running, dead, exited, ... */
} UnitStatus;

/* Called when a unit fleetd owns changes state (from a signal or from a query). */
typedef void (*systemd_unit_changed_t)(SystemdBackend *b, const char *unit, const UnitStatus *status,
                                       void *userdata);
/* Called when a job or call finished: error 0 on success, else negative errno (job results
 * other than "done" give -EIO; message says what systemd said). */
typedef void (*systemd_done_t)(SystemdBackend *b, const char *unit, int error, const char *message,
                               void *userdata);

int systemd_backend_new(sd_event *e, const char *units_dir, const char *link_dir, systemd_unit_changed_t on_change,
                        void *userdata, SystemdBackend **ret);
SystemdBackend *systemd_backend_free(SystemdBackend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(SystemdBackend *, systemd_backend_free);

/* Files (synchronous, local): write atomically (temp file + rename) and link; unlink and delete.
 * Names must already be valid unit names. */
int systemd_backend_write_unit(SystemdBackend *b, const char *name, const char *contents);
int systemd_backend_remove_unit(SystemdBackend *b, const char *name);
/* The names of the unit files fleetd has written (sorted). */
int systemd_backend_list_units(SystemdBackend *b, char ***ret);
/* The contents of a unit file fleetd wrote. */
int systemd_backend_read_unit(SystemdBackend *b, const char *name, char **ret);

/* Bus calls (asynchronous; done may be NULL). start/stop/restart use mode "replace" and report
 * when the job finished (JobRemoved), not merely when it was queued. */
int systemd_backend_reload(SystemdBackend *b, systemd_done_t done, void *userdata);
int systemd_backend_start(SystemdBackend *b, const char *name, systemd_done_t done, void *userdata);
int systemd_backend_stop(SystemdBackend *b, const char *name, systemd_done_t done, void *userdata);
int systemd_backend_restart(SystemdBackend *b, const char *name, systemd_done_t done, void *userdata);
/* Starts reboot.target with mode "replace-irreversibly", as `systemctl reboot` does. done is
 * called once systemd queued the job (or refused it): the reboot itself is not waited for. */
int systemd_backend_reboot(SystemdBackend *b, systemd_done_t done, void *userdata);
/* Asks for the current state of the named units; each answer comes through on_change.
 * done is called once after all of them. */
int systemd_backend_query(SystemdBackend *b, char * const *names, systemd_done_t done, void *userdata);

/* Called once with a unit's properties: error 0 and a JSON object (borrowed: valid during the
 * call, take a reference to keep it), or a negative errno and NULL. */
typedef void (*systemd_describe_t)(SystemdBackend *b, const char *unit, int error, json_t *properties,
                                   void *userdata);

/* Asks systemd for a unit's "systemctl status"-like properties without blocking the loop:
 * LoadUnit, then GetAll of its Unit and its Service interface, asynchronous calls on the bus.
 * The object has Id, Description, LoadState, ActiveState, SubState, FragmentPath,
 * ActiveEnterTimestamp, InactiveEnterTimestamp (Unit) and MainPID, NRestarts, ExecMainStatus,
 * Result, MemoryCurrent, TasksCurrent, ControlGroup (Service); a property the unit lacks, or
 * one whose value is unknown (UINT64_MAX), is left out. done is called exactly once, from the
 * event loop (never from inside this call): errors are systemd's (as -errno, e.g. from LoadUnit),
 * -EBADMSG for an answer that is not what systemd sends, -ECANCELED when the backend is freed
 * first. Returns 0, or a negative errno and then done is never called. */
int systemd_backend_describe(SystemdBackend *b, const char *name, systemd_describe_t done, void *userdata);
