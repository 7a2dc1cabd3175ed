"""`netstudy chat join` and `netstudy chat serve` as a person uses them: output, exit codes, endings."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, into_gone_head

from netstudy.chat import ChatClient, ChatServer, ThreadedChatServer
from netstudy.chat.core import ServerLine
from netstudy.chat.output import nick_colour, render

pytestmark = pytest.mark.live

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]


def join(port: int, nick: str) -> subprocess.Popen:
    return subprocess.Popen(NETSTUDY + ["chat", "join", nick, "--port", str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_unreachable_server_is_one_readable_line():
    port = free_port()
    proc = subprocess.run(NETSTUDY + ["chat", "join", "alice", "--port", str(port)], capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stderr == (f"netstudy chat: cannot connect to 127.0.0.1:{port}: Connection refused "
                           "(is `netstudy chat serve` running there?)\n")
    assert proc.stdout == f"*** joining 127.0.0.1:{port} as alice: /help lists the commands, /quit leaves\n"


def test_terminal_client_talks_and_quits_cleanly():
    with ChatServer() as srv, ChatClient("alice", port=srv.address[1]) as alice:
        proc = join(srv.address[1], "bob")
        alice.recv_until(lambda ev: ev.text.startswith("bob joined"))
        alice.say("hi bob")
        proc.stdin.write("hello alice\n")
        proc.stdin.flush()
        assert str(alice.recv_until(lambda ev: ev.kind == "message")[-1]) == "<bob> hello alice"
        proc.stdin.write("/quit see you\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and err == ""
        assert out.splitlines() == [
            f"*** joining 127.0.0.1:{srv.address[1]} as bob: /help lists the commands, /quit leaves",
            "*** welcome bob (2 online)", "<alice> hi bob", "*** bye"]
        assert str(alice.recv_until(lambda ev: "bob left" in ev.text)[-1]) == \
            "*** bob left (1 online): quit: see you"


def test_terminal_client_ends_when_the_server_shuts_down():
    srv = ThreadedChatServer().start()
    proc = join(srv.address[1], "carol")
    with ChatClient("watcher", port=srv.address[1]) as watcher:
        watcher.recv_until(lambda ev: ev.text.startswith("carol joined"))
    srv.stop()
    proc.wait(timeout=10)               # it ends by itself: its stdin is still open (closing it would quit too)
    out, err = proc.communicate()
    assert proc.returncode == 0 and err == ""
    assert out.splitlines()[-2:] == ["*** server shutting down", "*** connection closed by the server"]


def test_terminal_client_ctrl_c_says_goodbye():
    with ChatServer() as srv, ChatClient("alice", port=srv.address[1]) as alice:
        proc = join(srv.address[1], "dave")
        alice.recv_until(lambda ev: ev.text.startswith("dave joined"))
        assert proc.stdout.readline().startswith("*** joining")
        assert proc.stdout.readline() == "*** welcome dave (2 online)\n"
        time.sleep(0.3)             # past the join, into the input loop
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "Traceback" not in err
        assert str(alice.recv_until(lambda ev: "dave left" in ev.text)[-1]) == \
            "*** dave left (1 online): quit: interrupted"


SIGNALS = {                 # how it is stopped -> (what it inherits, the signal, its exit status)
    "ctrl-c": ("", signal.SIGINT, 130),
    "ctrl-c-ignored-by-its-script": ('trap "" INT; ', signal.SIGINT, 130),   # as `cmd &` in a script
    "sigterm": ("", signal.SIGTERM, 143),
}


@pytest.mark.parametrize("how", SIGNALS)
@pytest.mark.parametrize("flags, name", [([], "ChatServer"), (["--threaded"], "ThreadedChatServer")])
def test_serve_cli_runs_until_a_signal_and_logs_joins_and_statistics(flags, name, how):
    port = free_port()
    script, signum, status = SIGNALS[how]
    argv = [*NETSTUDY, "chat", "serve", "--port", str(port), *flags]
    if script:          # exec: the shell's ignored SIGINT is what the server inherits
        assert subprocess.run(["bash", "-c", script + "trap -p INT"], capture_output=True, text=True).stdout
        argv = ["bash", "-c", script + 'exec "$@"', "bash", *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client = ChatClient("erin", port=port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never started listening"
                time.sleep(0.1)
        if script:
            sig_ign = int(Path(f"/proc/{proc.pid}/status").read_text().split("SigIgn:")[1].split()[0], 16)
            assert not sig_ign >> (signal.SIGINT - 1) & 1      # it undid the ignore it inherited
        proc.send_signal(signum)
        assert [str(ev) for ev in client.drain(2)] == ["*** server shutting down"]
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == status
    assert f"{name} listening on 127.0.0.1:{port}" in err
    assert "erin joined from 127.0.0.1:" in err and "(1 online)" in err
    assert err.splitlines()[-1].endswith(f" {name} stopped: 1 connection accepted; ended: server shutting down 1")
    assert "Traceback" not in err


def test_serve_cli_refuses_a_port_in_use():
    with ChatServer() as srv:
        port = srv.address[1]
        proc = subprocess.run(NETSTUDY + ["chat", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == f"netstudy chat: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_names_keep_their_colour_and_plain_text_has_none():
    assert nick_colour("alice") == nick_colour("ALICE")
    line = ServerLine("message", "hi", "alice")
    assert render(line, colour=False) == "<alice> hi"
    assert render(line, colour=True) == f"\x1b[{nick_colour('alice')}m<alice>\x1b[0m hi"
    assert render(ServerLine("error", "alice", code="nick-in-use"), colour=False) == "error: nick-in-use alice"


def test_terminal_client_with_a_taken_nickname_is_one_readable_line():
    with ChatServer() as srv, ChatClient("alice", port=srv.address[1]):
        proc = subprocess.run(NETSTUDY + ["chat", "join", "ALICE", "--port", str(srv.address[1])],
                              capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stderr == "netstudy chat: cannot join as 'ALICE': nick-in-use ALICE\n"


def test_terminal_client_with_a_bad_nickname_says_so_once():
    with ChatServer() as srv:
        port = srv.address[1]
        proc = subprocess.run(NETSTUDY + ["chat", "join", "1abc", "--port", str(port)],
                              capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stderr == ("netstudy chat: cannot join as '1abc': bad-nick '1abc': must start with a letter "
                           "or one of []\\`_^{|} and hold only those, digits and -\n")
    assert proc.stdout == f"*** joining 127.0.0.1:{port} as 1abc: /help lists the commands, /quit leaves\n"


ESCAPES = "\x1b[2J\x1b[31mred\x07\x1b]0;pwned\x07\rgotcha\x9b1m\u202eevil"


def test_control_characters_are_shown_never_obeyed():
    shown = ("\\x1b[2J\\x1b[31mred\\x07\\x1b]0;pwned\\x07\\rgotcha\\x9b1m\\u202eevil"
             .replace("\\r", "\\x0d"))
    assert render(ServerLine("message", ESCAPES, "mallory"), colour=False) == "<mallory> " + shown
    painted = render(ServerLine("action", ESCAPES, "mallory"), colour=True)
    assert painted == f"\x1b[{nick_colour('mallory')}m* mallory {shown}\x1b[0m"     # only our own colour
    assert render(ServerLine("notice", "bell\x07"), colour=False) == "*** bell\\x07"
    assert render(ServerLine("error", "x", code="e\x1b"), colour=False) == "error: e\\x1b x"
    assert render(ServerLine("message", "tabs\tand ünïcödé 😀", "bob"), colour=False) == \
        "<bob> tabs\\x09and ünïcödé 😀"


def test_terminal_client_shows_a_peers_escape_sequences_escaped():
    with ChatServer() as srv, ChatClient("mallory", port=srv.address[1]) as mallory:
        proc = join(srv.address[1], "bob")
        mallory.recv_until(lambda ev: ev.text.startswith("bob joined"))
        mallory.say(ESCAPES)                        # the server passes the bytes through as they are
        mallory.me("waves\x1b[5m")
        mallory.msg("bob", "\x1bc")               # ESC c: reset the terminal
        mallory.say("done")
        seen = []
        while not seen or seen[-1] != "<mallory> done\n":
            seen.append(proc.stdout.readline())
            assert seen[-1], "the client ended early"
        proc.stdin.write("/quit\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err == ""
    out = "".join(seen) + out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\x9b" not in out
    lines = out.splitlines()
    assert lines[2:6] == ["<mallory> \\x1b[2J\\x1b[31mred\\x07\\x1b]0;pwned\\x07\\x0dgotcha\\x9b1m\\u202eevil",
                          "* mallory waves\\x1b[5m", "*mallory* \\x1bc", "<mallory> done"]


@pytest.mark.parametrize("lines", [0, 1, 2], ids=["gone-head", "head-1", "head-2"])
def test_terminal_client_into_a_closed_pipe_stops_quietly(lines):
    """`netstudy chat join bob | head -N`: once head is gone, the client ends with no message (141)."""
    with ChatServer() as srv, ChatClient("alice", port=srv.address[1]) as alice:
        argv = NETSTUDY + ["chat", "join", "bob", "--port", str(srv.address[1])]
        if not lines:   # its first line ("*** joining ...") already meets the closed pipe: it stops there
            proc = into_gone_head(argv, stdin=subprocess.PIPE)
            _, err = proc.communicate(timeout=10)
            assert (proc.returncode, err) == (141, "")
            assert alice.drain(0.3) == []
            return
        head = subprocess.Popen(["head", f"-{lines}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=head.stdin, stderr=subprocess.PIPE, text=True)
        head.stdin.close()
        alice.recv_until(lambda ev: ev.text.startswith("bob joined"))
        alice.say("are you there?")     # head -1 may have gone before the welcome line or only after it
        alice.say("still there?")
        assert len(head.stdout.read().decode().splitlines()) == lines
        head.wait(timeout=10)
        # the client may have written every line into the pipe before head left: one more must meet the
        # closed pipe, while its stdin stays open (an end of input would make it leave by /quit instead)
        alice.say("into the closed pipe")
        proc.wait(timeout=10)
        _, err = proc.communicate(timeout=10)
        assert (proc.returncode, err) == (141, "")
        assert str(alice.recv_until(lambda ev: "bob left" in ev.text)[-1]).startswith("*** bob left (1 online)")
