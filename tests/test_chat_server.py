"""Both chat servers on loopback: delivery and order, nc as a client, bad input, rude clients, shutdown."""
from __future__ import annotations

import logging
import re
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from conftest import tool

from netstudy.chat import ChatClient, ChatServer, ThreadedChatServer
from netstudy.errors import InputError, NetstudyError
from netstudy.wire.lines import MAX_LINE

pytestmark = pytest.mark.live

SERVERS = [ThreadedChatServer, ChatServer]


@pytest.fixture(params=SERVERS, ids=["threaded", "eventloop"])
def server(request):
    with request.param() as srv:
        yield srv


def port(srv) -> int:
    return srv.address[1]


def wait_for(client: ChatClient, text: str, timeout: float = 5.0) -> list[str]:
    """Lines up to the first one containing ``text``."""
    return [str(ev) for ev in client.recv_until(lambda ev: text in str(ev), timeout)]


def raw_join(srv, nick: str, rcvbuf: int | None = None) -> socket.socket:
    """A bare socket that joins as ``nick`` (and reads only the greeting and the welcome)."""
    s = socket.socket()
    if rcvbuf:                      # before connect(), so the window it advertises stays small
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(srv.address)
    s.sendall(f"/nick {nick}\n".encode())
    got = b""
    while b"*** welcome" not in got:
        got += s.recv(4096)
    return s


def test_everyone_gets_every_line_once_in_order_per_sender(server):
    clients = [ChatClient(f"u{i}", port=port(server)) for i in range(5)]
    for c in clients[:-1]:
        wait_for(c, "u4 joined")
    for k in range(20):
        for c in clients:
            c.say(f"{c.nick} line {k}")
    for me in clients:
        got = [ev for ev in (me.recv(5) for _ in range(20 * 4))]
        assert all(ev.kind == "message" for ev in got), got
        by_sender = {}
        for ev in got:
            by_sender.setdefault(ev.sender, []).append(ev.text)
        assert sorted(by_sender) == sorted(c.nick for c in clients if c is not me)
        for sender, texts in by_sender.items():
            assert texts == [f"{sender} line {k}" for k in range(20)]
        assert me.drain(0.2) == []                 # nothing extra, not even our own lines back
    for c in clients:
        c.quit()


def test_private_message_reaches_only_its_target(server):
    with ChatClient("alice", port=port(server)) as a, ChatClient("bob", port=port(server)) as b, \
            ChatClient("carol", port=port(server)) as c:
        wait_for(a, "carol joined")
        wait_for(b, "carol joined")
        a.msg("Carol", "for your eyes only")
        a.say("public")
        assert wait_for(c, "public") == ["*alice* for your eyes only", "<alice> public"]
        assert wait_for(b, "public") == ["<alice> public"]
        assert sorted(a.list()) == ["alice", "bob", "carol"]


def test_nc_is_a_client(server):
    nc = tool("nc")
    proc = subprocess.Popen([nc, "127.0.0.1", str(port(server))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with ChatClient("alice", port=port(server)) as alice:
            proc.stdin.write(b"/nick netcat\n")
            proc.stdin.flush()
            wait_for(alice, "netcat joined")
            alice.say("hi nc, caf\u00e9")
            proc.stdin.write(b"hello from nc\n")
            proc.stdin.flush()
            assert wait_for(alice, "hello from nc")[-1] == "<netcat> hello from nc"
            proc.stdin.write(b"/quit done\n")
            proc.stdin.flush()
            assert wait_for(alice, "netcat left")[-1] == "*** netcat left (1 online): quit: done"
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    lines = out.decode().splitlines()
    assert lines[0] == "*** netstudy chat: pick a nickname with /nick NAME"
    assert lines[1:] == ["*** welcome netcat (2 online)", "<alice> hi nc, caf\u00e9", "*** bye"]


def test_plain_text_before_nick_is_not_a_nickname(server):
    with ChatClient("alice", port=port(server)) as alice, socket.create_connection(server.address) as s:
        s.sendall(b"hello everyone\n")
        got = b""
        while got.count(b"\n") < 2:
            got += s.recv(4096)
        assert got.decode().splitlines() == ["*** netstudy chat: pick a nickname with /nick NAME",
                                             "ERR not-joined pick a nickname first with /nick NAME"]
        assert alice.list() == ["alice"] and alice.drain(0.2) == []      # nobody joined, nothing said
        s.sendall(b"/nick late\n")
        assert wait_for(alice, "late joined") == ["*** late joined (2 online)"]


def test_oversized_line_and_invalid_utf8_are_refused_and_the_connection_lives_on(server):
    with ChatClient("alice", port=port(server)) as alice:
        s = raw_join(server, "rude")
        wait_for(alice, "rude joined")
        s.sendall(b"x" * (MAX_LINE * 3) + b"\n" + b"\xff\xfe oops\n" + b"fine after all\n")
        got = b""
        while got.count(b"\n") < 2:
            got += s.recv(4096)
        assert got.decode().splitlines()[:2] == [f"ERR line-too-long max {MAX_LINE} bytes",
                                                 "ERR invalid-utf8 bad byte at offset 0"]
        assert wait_for(alice, "fine after all") == ["<rude> fine after all"]
        s.close()


def test_duplicate_nickname_is_refused_case_insensitively(server):
    with ChatClient("alice", port=port(server)), pytest.raises(NetstudyError, match="nick-in-use ALICE"):
        ChatClient("ALICE", port=port(server))


@pytest.mark.parametrize("how, reason", [("close", "connection closed"), ("rst", "connection reset by peer")])
def test_abrupt_disconnects_are_a_leave_and_the_server_carries_on(server, how, reason):
    with ChatClient("alice", port=port(server)) as alice:
        s = raw_join(server, "ghost")
        wait_for(alice, "ghost joined")
        if how == "rst":                # SO_LINGER on, timeout 0: close() sends RST (socket(7))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        assert wait_for(alice, "ghost left")[-1] == f"*** ghost left (1 online): {reason}"
        with ChatClient("bob", port=port(server)) as bob:
            wait_for(alice, "bob joined")
            bob.say("still up")
            assert wait_for(alice, "still up") == ["<bob> still up"]


@pytest.mark.parametrize("cls, options", [(ThreadedChatServer, {"send_timeout": 0.5}),
                                          (ChatServer, {"max_queue": 256 * 1024})],
                         ids=["threaded", "eventloop"])
def test_a_client_that_never_reads_is_dropped_and_nobody_loses_a_line(cls, options, caplog):
    caplog.set_level(logging.INFO, logger="netstudy.chat")
    with cls(**options) as srv:
        alice, bob = ChatClient("alice", port=port(srv)), ChatClient("bob", port=port(srv))
        sleeper = raw_join(srv, "sleeper", rcvbuf=4096)
        wait_for(alice, "sleeper joined")
        wait_for(bob, "sleeper joined")
        line = "y" * 4000
        received: list[str] = []
        reader = threading.Thread(target=lambda: received.extend(
            str(ev) for ev in bob.recv_until(lambda ev: ev.text.startswith("999 "), 30)))
        reader.start()
        for k in range(1000):           # 4 MB: far more than the sleeper's buffers hold
            alice.say(f"{k} {line}")
        reader.join(40)
        messages = [t for t in received if t.startswith("<alice>")]
        assert messages == [f"<alice> {k} {line}" for k in range(1000)]
        if not any("sleeper left" in t for t in received):
            received += wait_for(bob, "sleeper left")
        left = [t for t in received if "sleeper left" in t]
        assert left[0].startswith("*** sleeper left (2 online): ") and left[0].endswith("(not reading)")
        assert "not reading" in caplog.text
        sleeper.close()
        alice.close()
        bob.close()


def test_shutdown_tells_clients_and_closes_every_socket():
    for cls in SERVERS:
        srv = cls().start()
        address = srv.address
        clients = [ChatClient(f"u{i}", port=port(srv)) for i in range(3)]
        lurker = socket.create_connection(srv.address)          # connected, never joined
        assert lurker.recv(4096).startswith(b"*** netstudy chat")   # accepted and greeted
        srv.stop()
        for c in clients:
            assert "*** server shutting down" in [str(ev) for ev in c.drain(1.0)]
            assert c.closed.wait(5), f"{cls.__name__} left {c.nick}'s socket open"
        lurker.settimeout(5)
        data = b""
        while chunk := lurker.recv(4096):
            data += chunk
        assert data == b"*** server shutting down\n"
        assert srv.room.online == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, 1)


@pytest.mark.parametrize("cls", SERVERS, ids=["threaded", "eventloop"])
def test_idle_clients_are_disconnected(cls):
    with cls(idle_timeout=0.5) as srv, ChatClient("talker", port=port(srv)) as talker, \
            ChatClient("idler", port=port(srv)) as idler:
        wait_for(talker, "idler joined")
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline and not idler.closed.is_set():
            talker.say("keep-alive")
            time.sleep(0.1)
        assert idler.closed.wait(3)
        assert wait_for(talker, "idler left")[-1] == "*** idler left (1 online): idle timeout"
        assert not talker.closed.is_set()


def test_threads_and_sockets_each_server_uses():
    with ThreadedChatServer() as threaded, ChatClient("alice", port=port(threaded)), \
            ChatClient("bob", port=port(threaded)):
        handlers = [t for t in threading.enumerate() if t.name.startswith("client 127.0.0.1:")]
        assert len(handlers) == 2                   # one thread per client, as in the seed
    with ChatServer() as loop, ChatClient("alice", port=port(loop)), ChatClient("bob", port=port(loop)):
        rows = loop.sockets()
        assert [whose for _, whose, _ in rows][:2] == ["wake-up socketpair", "listening socket"]
        assert sorted(whose.split(" (")[0] for _, whose, _ in rows[2:]) == ["client alice", "client bob"]
        assert {events for _, _, events in rows} == {"read"}
        assert not [t for t in threading.enumerate() if t.name.startswith("client 127.0.0.1:")]


@pytest.mark.parametrize("kwargs, message", [
    ({"idle_timeout": -1}, "idle_timeout must be a number above 0, up to 2147483, not -1"),
    ({"idle_timeout": 0}, "idle_timeout must be a number above 0, up to 2147483, not 0"),
    ({"idle_timeout": float("nan")}, "idle_timeout must be a number above 0, up to 2147483, not nan"),
    ({"idle_timeout": float("inf")}, "idle_timeout must be a number above 0, up to 2147483, not inf"),
    ({"port": 65536}, "port must be a whole number from 0 to 65535, not 65536"),
    ({"port": -1}, "port must be a whole number from 0 to 65535, not -1"),
    ({"port": "5555"}, "port must be a whole number from 0 to 65535, not '5555'"),
])
@pytest.mark.parametrize("cls", SERVERS, ids=["threaded", "eventloop"])
def test_a_server_refuses_nonsense_settings_with_an_input_error(cls, kwargs, message):
    with pytest.raises(InputError, match="^" + re.escape(message)):
        cls(**kwargs)
    with pytest.raises(InputError, match="^send_timeout must be a number above 0, up to 2147483, not 0"):
        ThreadedChatServer(send_timeout=0)         # the event loop has none: it queues instead
    assert cls(idle_timeout=None, port=0)._bind == ("127.0.0.1", 0)       # None: no idle timeout


@pytest.mark.parametrize("argv, message", [
    (["serve", "--idle-timeout", "-1"],
     "netstudy chat serve: argument --idle-timeout: idle timeout must be a number above 0, up to 2147483, not '-1'"),
    (["serve", "--idle-timeout", "0"],
     "netstudy chat serve: argument --idle-timeout: idle timeout must be a number above 0, up to 2147483, not '0'"),
    (["serve", "--port", "65536"],
     "netstudy chat serve: argument --port: port must be a whole number from 0 to 65535, not '65536'"),
    (["join", "bob", "--port", "65536"],
     "netstudy chat join: argument --port: port must be a whole number from 1 to 65535, not '65536'"),
])
def test_cli_nonsense_settings_are_one_line(argv, message):
    proc = subprocess.run([sys.executable, "-m", "netstudy.cli", "chat", *argv], capture_output=True, text=True,
                          timeout=20)
    assert proc.returncode == 2 and proc.stderr.startswith(message) and proc.stderr.count("\n") == 1
