"""Issue 20: bad input anywhere is one line on stderr and exit status 2, before anything is sent.

The cases are generated from the CLI's own argparse definitions (``netstudy.cli.build_parser``): every
subcommand, every numeric option, so a new command is covered without anyone remembering to add it."""
from __future__ import annotations

import argparse
import math
import socket
import time
from pathlib import Path

import pytest

from netstudy.cli import build_parser, main
from netstudy.commands.common import Number
from netstudy.commands.dns import PLUS_NUMBERS
from netstudy.dns import DnsServer, Exchange
from netstudy.errors import InputError
from netstudy.icmp import Ping, Traceroute

ZONE = Path(__file__).resolve().parents[1] / "netstudy" / "data" / "zones" / "netstudy.test.zone"
BAD = ["-1", "0", "nan", "inf", "1e300", "99999999999", "abc", "65536"]
NEVER_VALID = {"-1", "nan", "inf", "1e300", "abc"}      # no option may accept these
PLACEHOLDER = {"host": "127.0.0.1", "zonefiles": str(ZONE), "nick": "alice", "topology": "lan"}
def _numeric(action: argparse.Action) -> bool:
    return action.type in (int, float) or isinstance(action.type, Number)


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(subcommand path, the parser, a numeric action) for every numeric option of every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif _numeric(action):
            yield path, parser, action


def _argv(path: tuple[str, ...], parser: argparse.ArgumentParser, action: argparse.Action, value: str) -> list[str]:
    positionals = [PLACEHOLDER[a.dest] for a in parser._actions
                   if not a.option_strings and a is not action and a.dest in PLACEHOLDER]
    if action.option_strings:
        return [*path, action.option_strings[0], value, *positionals]
    return [*path, *positionals, value]


def _cases():
    found = list(_options(build_parser()))
    assert {path[0] for path, _, _ in found} >= {"ping", "traceroute", "dns", "sweep", "chat", "lab"}
    for path, parser, action in found:
        name = " ".join(path) + " " + (action.option_strings[0] if action.option_strings else action.dest)
        for value in BAD:
            yield pytest.param(path, parser, action, value, id=f"{name} {value}")


@pytest.fixture
def nothing_sent(monkeypatch):
    """Any socket opened during the run fails the test: these values must be refused before."""
    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened for an option that should have been refused")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str, float]:
    start = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err, time.monotonic() - start


def assert_one_line(code: int, out: str, err: str, elapsed: float, argv: list[str]) -> None:
    assert code == 2, (argv, code, err)
    assert out == "" and "Traceback" not in err, (argv, err)
    assert err.count("\n") == 1 and err.startswith("netstudy "), (argv, err)
    assert elapsed < 5, (argv, elapsed)


@pytest.mark.parametrize("path,parser,action,value", list(_cases()))
def test_every_numeric_option_refuses_bad_numbers_in_one_line(path, parser, action, value, capsys, nothing_sent):
    assert isinstance(action.type, Number), f"{' '.join(path)} {action.option_strings or action.dest}: " \
        f"type={action.type!r}; use a validator from netstudy.commands.common (count, seconds, port, ttl, Number)"
    if value in NEVER_VALID:
        assert action.type.rejects(value)
    if not action.type.rejects(value):
        return                  # a value the option takes (ping -c 99999999999, dns serve --port 0): not run
    argv = _argv(path, parser, action, value)
    assert_one_line(*run_cli(argv, capsys), argv)


DIG_WORDS = [(key, value) for key in PLUS_NUMBERS for value in BAD]


@pytest.mark.parametrize("key,value", DIG_WORDS, ids=[f"+{k}={v}" for k, v in DIG_WORDS])
def test_dig_style_numbers_refuse_bad_values_in_one_line(key, value, capsys, nothing_sent):
    number = PLUS_NUMBERS[key]
    if value in NEVER_VALID:
        assert number.rejects(value)
    if not number.rejects(value):
        return
    argv = ["dns", "query", "www.netstudy.test", "@127.0.0.1", "-p", "9", f"+{key}={value}"]
    code, out, err, elapsed = run_cli(argv, capsys)
    assert_one_line(code, out, err, elapsed, argv)
    assert f"+{key} must be" in err


@pytest.mark.parametrize("value", ["abc", "-1", "0", "65536", "nan"])
def test_dns_query_port_after_the_name_is_checked_too(value, capsys, nothing_sent):
    argv = ["dns", "query", "www.netstudy.test", "-p", value]
    code, out, err, elapsed = run_cli(argv, capsys)
    assert_one_line(code, out, err, elapsed, argv)
    assert err == f"netstudy dns: argument -p: port must be a whole number from 1 to 65535, not {value!r}\n"


def test_negative_numbers_reach_the_option_not_expected_one_argument(capsys, nothing_sent):
    for argv in (["ping", "-c", "-1", "127.0.0.1"], ["ping", "-4", "-c", "-5", "127.0.0.1"],
                 ["ping", "-W", "-inf", "127.0.0.1"], ["traceroute", "-q", "-1e300", "127.0.0.1"]):
        code, out, err, elapsed = run_cli(argv, capsys)
        assert_one_line(code, out, err, elapsed, argv)
        assert "expected one argument" not in err and f"not {argv[-2]!r}" in err, err


def test_dig_limits_zero_tries_and_timeout_are_taken_as_one():
    """dig: "+tries=0" and "+timeout=0" are rounded up to 1 (dig(1)); +retry=N is N+1 tries."""
    from netstudy.commands.dns import _options
    def opts(*words):
        return _options(argparse.Namespace(words=["x.test", *words], reverse=None, port=53))
    assert opts("+tries=0").tries == 1 and opts("+timeout=0").timeout == 1.0
    assert opts("+retry=2").tries == 3 and opts("+tries=10").tries == 10 and opts("+timeout=0.5").timeout == 0.5


NAN, INF = math.nan, math.inf


@pytest.mark.parametrize("options,words", [
    (dict(count=0), "count must be a whole number from 1"), (dict(count=2.5), "count must be a whole number"),
    (dict(interval=NAN), "interval must be a number from 0"), (dict(interval=INF), "interval must be"),
    (dict(interval=-1), "interval must be"), (dict(timeout=NAN), "timeout must be a number above 0"),
    (dict(timeout=1e300), "timeout must be"), (dict(timeout=0), "timeout must be"),
    (dict(deadline=INF), "deadline must be"), (dict(deadline=-1), "deadline must be"),
    (dict(size=-1), "size must be"), (dict(ttl=0), "ttl 0 is out of range")])
def test_ping_refuses_what_the_cli_refuses(options, words, nothing_sent):
    with pytest.raises(InputError, match=words):
        Ping("127.0.0.1", **options)


@pytest.mark.parametrize("options,words", [
    (dict(wait=NAN), "wait must be a number above 0"), (dict(wait=INF), "wait must be"), (dict(wait=0), "wait must"),
    (dict(queries=11), "queries must be a whole number from 1 to 10"), (dict(parallel=0), "parallel must be"),
    (dict(max_hops=256), "max_hops must be"), (dict(first_ttl=0), "first_ttl must be"),
    (dict(first_ttl=9, max_hops=5), "first_ttl \\(9\\) is beyond max_hops \\(5\\)"),
    (dict(port=65536), "port must be"), (dict(packet_size=-1), "packet_size must be")])
def test_traceroute_refuses_what_the_cli_refuses(options, words, nothing_sent):
    with pytest.raises(InputError, match=words):
        Traceroute("127.0.0.1", **options)


@pytest.mark.parametrize("delay", [NAN, INF, -1, 1e300])
def test_dns_server_refuses_a_delay_it_could_never_keep(delay):
    with pytest.raises(InputError, match="delay must be a number from 0 to 65535"):
        DnsServer(ZONE, delay=delay)


@pytest.mark.parametrize("port", [-1, 65536, 99999999999])
def test_dns_server_refuses_a_port_outside_0_65535(port):
    with pytest.raises(InputError, match="port must be a whole number from 0 to 65535"):
        DnsServer(ZONE, port=port)


@pytest.mark.parametrize("options", [dict(tries=100000), dict(tries=0), dict(timeout=NAN), dict(timeout=-1),
                                     dict(timeout=INF), dict(server=("127.0.0.1", 65536))])
def test_exchange_refuses_bursts_and_endless_waits(options):
    with pytest.raises(InputError):
        Exchange("www.netstudy.test", **options)
