#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A STAND-IN FOR SYSTEMD on a private D-Bus (not systemd): it owns org.freedesktop.systemd1
and answers the part of its API the systemd attestor uses (org.freedesktop.systemd1(5)):
Manager.GetUnitByPID(u) -> o, Manager.GetUnitByPIDFD(h) -> (o, s, ay), and Properties.Get /
GetAll of org.freedesktop.systemd1.Unit (Id, FragmentPath) on the unit objects. PID 1 of the
test machine need not be systemd: this script decides which unit a process is in.

    fake_systemd1.py --address ADDR [--unit ID | --unit-from-cgroup] [--fragment PATH]
                     [--fragment-for UNIT=PATH ...] [--no-pidfd] [--hang] [--calls FILE]

--unit ID            every process is in unit ID ("" = systemd knows no unit: NoUnitForPID)
--unit-from-cgroup   the unit systemd would derive from /proc/<pid>/cgroup (the default)
--fragment PATH      FragmentPath of every unit ("" for transient units); default
                     /etc/systemd/system/<unit>
--fragment-for U=P   FragmentPath P for unit U (repeatable; wins over --fragment)
--no-pidfd           no GetUnitByPIDFD (systemd before 249): callers get UnknownMethod
--hang               GetUnitByPID(FD) never answer
--calls FILE         appends "<method> <pid>" per Manager call (pid read from the pidfd's
                     fdinfo for GetUnitByPIDFD)

Prints "ready" on stdout once it owns the name; exits on SIGTERM or when the bus goes away.
"""
import argparse
import os
import re
import signal
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

SERVICE = "org.freedesktop.systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT = "org.freedesktop.systemd1.Unit"
PROPERTIES = "org.freedesktop.DBus.Properties"
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(service|scope|socket|mount|swap|target|timer|path|device|automount)$")


def escape(name):
    """systemd's bus_label_escape(): [A-Za-z0-9] kept, every other byte as _xx."""
    return "".join(c if c.isalnum() and c.isascii() else "_%02x" % ord(c) for c in name)


def unit_from_cgroup(pid):
    """systemd's cg_path_get_unit() on the name=systemd (v1) or unified (v2) line: the first
    path component that is not a slice, if it is a unit name; "" otherwise."""
    with open("/proc/%d/cgroup" % pid) as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    path = next((p for _, c, p in lines if c == "name=systemd"), None)
    if path is None:
        path = next((p for h, _, p in lines if h == "0"), "/")
    for part in path.split("/"):
        if not part or part.endswith(".slice"):
            continue
        return part if UNIT_NAME.match(part) else ""
    return ""


def pid_of_pidfd(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise dbus.exceptions.DBusException("not a pidfd", name="org.freedesktop.DBus.Error.InvalidArgs")


class Unit(dbus.service.Object):
    def __init__(self, bus, path, unit_id, fragment):
        super().__init__(bus, path)
        self.props = {"Id": unit_id, "FragmentPath": fragment}

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        if interface != UNIT or name not in self.props:
            raise dbus.exceptions.DBusException(
                "unknown property %s.%s" % (interface, name),
                name="org.freedesktop.DBus.Error.UnknownProperty")
        return dbus.String(self.props[name], variant_level=1)

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return {k: dbus.String(v) for k, v in self.props.items()} if interface == UNIT else {}


class Manager(dbus.service.Object):
    def __init__(self, bus, args):
        super().__init__(bus, "/org/freedesktop/systemd1")
        self.bus = bus
        self.args = args
        self.units = {}
        self.fragments = dict(f.split("=", 1) for f in args.fragment_for)

    def record(self, method, pid):
        if self.args.calls:
            with open(self.args.calls, "a") as f:
                f.write("%s %d\n" % (method, pid))

    def unit_path(self, pid):
        unit_id = self.args.unit if self.args.unit is not None else unit_from_cgroup(pid)
        if not unit_id:
            raise dbus.exceptions.DBusException(
                "PID %d does not belong to any loaded unit." % pid,
                name="org.freedesktop.systemd1.NoUnitForPID")
        path = "/org/freedesktop/systemd1/unit/" + escape(unit_id)
        if path not in self.units:
            default = "/etc/systemd/system/" + unit_id
            fragment = self.fragments.get(unit_id, self.args.fragment
                                          if self.args.fragment is not None else default)
            self.units[path] = Unit(self.bus, path, unit_id, fragment)
        return dbus.ObjectPath(path), unit_id

    @dbus.service.method(MANAGER, in_signature="u", out_signature="o",
                         async_callbacks=("reply", "error"))
    def GetUnitByPID(self, pid, reply, error):
        self.record("GetUnitByPID", int(pid))
        if self.args.hang:
            return  # never answered
        try:
            reply(self.unit_path(int(pid))[0])
        except dbus.exceptions.DBusException as e:
            error(e)


class ManagerWithPidfd(Manager):
    @dbus.service.method(MANAGER, in_signature="h", out_signature="osay",
                         async_callbacks=("reply", "error"))
    def GetUnitByPIDFD(self, pidfd, reply, error):
        fd = pidfd.take()
        try:
            pid = pid_of_pidfd(fd)
        finally:
            os.close(fd)
        self.record("GetUnitByPIDFD", pid)
        if self.args.hang:
            return
        try:
            path, unit_id = self.unit_path(pid)
            reply(path, unit_id, dbus.Array([], signature="y"))
        except dbus.exceptions.DBusException as e:
            error(e)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--address", required=True)
    p.add_argument("--unit", default=None)
    p.add_argument("--unit-from-cgroup", action="store_true")
    p.add_argument("--fragment", default=None)
    p.add_argument("--fragment-for", action="append", default=[])
    p.add_argument("--no-pidfd", action="store_true")
    p.add_argument("--hang", action="store_true")
    p.add_argument("--calls", default=None)
    args = p.parse_args()
    if args.unit_from_cgroup:
        args.unit = None

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(args.address)
    loop = GLib.MainLoop()
    bus.call_on_disconnection(lambda _conn: loop.quit())
    manager = (Manager if args.no_pidfd else ManagerWithPidfd)(bus, args)
    name = dbus.service.BusName(SERVICE, bus, do_not_queue=True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready", flush=True)
    loop.run()
    del name, manager


if __name__ == "__main__":
    sys.exit(main())
