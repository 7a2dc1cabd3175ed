"""Issue 20: error messages that name what failed (the server, the interface, the file), and the
unprivileged-ping message inside a user namespace that does not contradict itself."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import free_port, need_user_namespaces, tool

from netstudy.cli import main
from netstudy.dns import ZoneError, load_zone

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
USERNS = ["--user", "--map-user=65534", "--map-group=65534"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_tcp_to_a_closed_port_names_the_server_as_dig_does(capsys):
    port = free_port()
    code, out, err = run_cli(["dns", "query", "www.netstudy.test", "@127.0.0.1", "-p", str(port), "+tcp"], capsys)
    assert code == 2 and out == ""
    assert err == f"netstudy dns: 127.0.0.1#{port}: connection refused\n"
    dig = subprocess.run([tool("dig"), "+tcp", "+tries=1", "@127.0.0.1", "-p", str(port), "www.netstudy.test"],
                         capture_output=True, text=True, timeout=30)
    assert f"127.0.0.1#{port}" in dig.stdout and "connection refused" in dig.stdout


@pytest.mark.parametrize("argv", [["ping", "-c", "1", "-I", "nosuchif0", "127.0.0.1"],
                                  ["traceroute", "-U", "-s", "nosuchif0", "127.0.0.1"]])
def test_an_unknown_interface_is_named(argv, capsys):
    code, out, err = run_cli(argv, capsys)
    if "needs a raw ICMP socket" in err:
        pytest.skip("no ICMP socket here at all: the privilege error comes first")
    assert code == 2 and out == ""
    assert err == f"netstudy {argv[0]}: interface nosuchif0: No such device (SO_BINDTODEVICE)\n"


def test_iputils_names_the_interface_too():
    theirs = subprocess.run([tool("ping"), "-c", "1", "-I", "nosuchif0", "127.0.0.1"], capture_output=True,
                            text=True, timeout=30)
    if "SO_BINDTODEVICE" not in theirs.stderr:
        pytest.skip(f"iputils ping could not get that far here: {theirs.stderr.strip()}")
    assert "nosuchif0" in theirs.stderr and "No such device" in theirs.stderr


@pytest.mark.parametrize("data,line,offset", [(b"\xff\xfe\x00bad", 1, 0),
                                              (b"$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\n\x80\x81 A 1.2.3.4\n", 3, 37)])
def test_a_binary_zone_file_is_named_with_its_line(tmp_path, data, line, offset, capsys):
    path = tmp_path / "binary.zone"
    path.write_bytes(data)
    with pytest.raises(ZoneError, match=rf"^{path}:{line}: not a text file \(byte 0x.. at offset {offset} is not "):
        load_zone(path)
    code, out, err = run_cli(["dns", "serve", "--port", "0", str(path)], capsys)
    assert code == 2 and out == "" and err.startswith(f"netstudy dns: {path}:{line}: not a text file")
    assert err.count("\n") == 1


def test_the_privilege_message_in_a_user_namespace_does_not_contradict_itself():
    """uid/gid 65534 in a user namespace: the range, set outside, reads '65534 65534' inside (ids not
    mapped show as 65534), which the old message put next to "does not allow ... 65534"."""
    need_user_namespaces()
    proc = subprocess.run([tool("unshare"), *USERNS, *NETSTUDY, "ping", "-c", "1", "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        pytest.skip("ping_group_range lets this group ping: no message to read")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    message = proc.stderr
    assert f"group(s) 65534 of this user namespace ({os.getegid()} outside it, where the range is set and " \
           f"checked; in here it reads " in message, message
    assert "as ids the namespace does not map show as 65534" in message
    assert "sysctl -w net.ipv4.ping_group_range='0 2147483647'" in message
