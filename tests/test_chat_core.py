"""The chat core without sockets: nicknames, the room's answers and states, server-line parsing (its line
framing is tested in test_wire_lines.py)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netstudy.chat.core import (
    MEMBER,
    Broadcast,
    ChatRoom,
    Close,
    Log,
    Send,
    ServerLine,
    State,
    nick_problem,
    parse_server_line,
)
from netstudy.wire.lines import MAX_LINE


@pytest.mark.parametrize("name, ok", [("alice", True), ("Bob_2", True), ("[x]", True), ("a-b", True),
                                      ("", False), ("2fast", False), ("-dash", False), ("has space", False),
                                      ("x" * 16, True), ("x" * 17, False), ("émile", False), ("a*b", False)])
def test_nickname_rules(name, ok):
    assert (nick_problem(name) is None) is ok


# ----------------------------------------------------------------------------------------- the room
def lines_for(actions, conn, members):
    """What ``conn`` receives from ``actions`` when ``members`` are joined."""
    got = []
    for a in actions:
        if type(a) is Send and a.to == conn or type(a) is Broadcast and a.exclude != conn and conn in members:
            got.append(a.line.decode())
    return got


@pytest.fixture
def room():
    r = ChatRoom()
    for conn, nick in ((1, "alice"), (2, "bob"), (3, "carol")):
        r.connect(conn, f"127.0.0.1:{1000 + conn}")
        r.receive(conn, f"/nick {nick}\n".encode())
    return r


def test_join_sequence():
    r = ChatRoom()
    greeting = r.connect(1, "127.0.0.1:4000")
    assert greeting == [Send(1, b"*** netstudy chat: pick a nickname with /nick NAME\n")]
    assert r.receive(1, b"/list\n") == [Send(1, b"ERR not-joined pick a nickname first with /nick NAME\n")]
    # a plain line is not a nickname (nor said to anyone): the newcomer is told how to pick one
    assert r.receive(1, b"alice\n") == [Send(1, b"ERR not-joined pick a nickname first with /nick NAME\n")]
    assert r.member(1).state is State.CONNECTED and r.online == 0
    assert r.receive(1, b"/nick alice\n") == [Send(1, b"*** welcome alice (1 online)\n"),
                                        Broadcast(b"*** alice joined (1 online)\n", 1),
                                        Log("alice joined from 127.0.0.1:4000 (1 online)")]


def test_broadcast_private_action_list(room):
    members = {1, 2, 3}
    said = room.receive(1, "hello, wörld\n".encode())
    assert said == [Broadcast("<alice> hello, wörld\n".encode(), 1)]
    assert lines_for(said, 1, members) == [] and lines_for(said, 2, members) == ["<alice> hello, wörld\n"]
    assert room.receive(2, b"/msg ALICE psst\n") == [Send(1, b"*bob* psst\n")]
    assert room.receive(3, b"/me waves\n") == [Broadcast(b"* carol waves\n", 3)]
    assert room.receive(3, b"/list\n") == [Send(3, b"*** 3 online: alice, bob, carol\n")]
    assert room.receive(2, b"//not a command\n") == [Broadcast(b"<bob> /not a command\n", 2)]


def test_nicknames_are_unique_case_insensitively(room):
    room.connect(4)
    assert room.receive(4, b"/nick ALICE\n") == [Send(4, b"ERR nick-in-use ALICE\n")]
    assert room.receive(4, b"/nick no way\n")[0].line.startswith(b"ERR bad-nick 'no way':")
    assert room.receive(2, b"/nick Bob\n") == [Broadcast(b"*** bob is now known as Bob\n"),
                                              Log("bob is now known as Bob")]


def test_errors_for_unknown_command_and_unknown_nick(room):
    assert room.receive(1, b"/dance\n") == [Send(1, b"ERR unknown-command /dance (try /help)\n")]
    assert room.receive(1, b"/msg zed hi\n") == [Send(1, b"ERR no-such-nick zed\n")]
    assert room.receive(1, b"/msg bob\n") == [Send(1, b"ERR usage /msg NAME text\n")]
    assert room.receive(1, b"x" * (MAX_LINE + 1) + b"\n") == [
        Send(1, f"ERR line-too-long max {MAX_LINE} bytes\n".encode())]
    assert room.receive(1, b"\xff\n") == [Send(1, b"ERR invalid-utf8 bad byte at offset 0\n")]


def test_quit_tells_everyone_and_ignores_what_follows(room):
    actions = room.receive(2, b"/quit gone fishing\nignored\n")
    assert actions == [Send(2, b"*** bye\n"), Broadcast(b"*** bob left (2 online): quit: gone fishing\n"),
                       Log("bob left (2 online): quit: gone fishing"), Close(2, "quit")]
    assert room.nicks() == ["alice", "carol"]
    assert room.disconnect(2) == []             # the server's own notice of the close changes nothing


def test_disconnect_and_idle_expiry(room):
    assert room.disconnect(3, "connection reset by peer") == [
        Broadcast(b"*** carol left (2 online): connection reset by peer\n"),
        Log("carol left (2 online): connection reset by peer")]
    room.idle_timeout = 10.0
    room.receive(1, b"still here\n", now_ns=5_000_000_000)
    actions = room.expire(now_ns=12_000_000_000)     # bob last spoke at 0 ns
    assert actions == [Send(2, b"ERR idle-timeout nothing received for 10 s\n"),
                       Broadcast(b"*** bob left (1 online): idle timeout\n"), Log("bob left (1 online): idle timeout"),
                       Close(2, "idle timeout")]      # alice spoke 7 s ago: she stays
    assert Send(2, b"ERR idle-timeout nothing received for 10 s\n") in actions
    assert Close(2, "idle timeout") in actions
    assert room.nicks() == ["alice"]


def test_a_member_moves_through_the_state_table(room):
    assert MEMBER.initial is State.CONNECTED
    room.connect(4)
    m = room.member(4)
    assert m is not None and m.state is State.CONNECTED and not room.is_joined(4)
    room.receive(4, b"/nick dave\n")
    assert m.state is State.JOINED and room.is_joined(4) and m.nick == "dave"
    room.receive(4, b"/nick Dave\n")
    assert m.state is State.JOINED                     # a rename stays joined
    room.receive(4, b"/quit\n")
    assert m.state is State.CLOSED and room.member(4) is None
    alice = room.member(1)
    room.connect(5)
    quiet = room.member(5)
    room.disconnect(5)
    assert quiet is not None and quiet.state is State.CLOSED
    room.shutdown()
    assert alice is not None and alice.state is State.CLOSED      # the server stopping closes everyone
    assert ("CONNECTED", "nick", "JOINED") in MEMBER.rows()


def test_shutdown_tells_every_connection_even_unjoined(room):
    room.connect(9)
    actions = room.shutdown()
    assert {a.to for a in actions if type(a) is Send} == {1, 2, 3, 9}
    assert {a.conn for a in actions if type(a) is Close} == {1, 2, 3, 9}
    assert room.online == 0


def test_help_lists_every_command(room):
    (answer,) = room.receive(1, b"/help\n")
    for usage in ("/nick NAME", "/list", "/msg NAME text", "/me action", "/quit [reason]"):
        assert usage in answer.line.decode()


@pytest.mark.parametrize("text, parsed", [
    ("<alice> hi <there>", ServerLine("message", "hi <there>", "alice")),
    ("*bob* psst", ServerLine("private", "psst", "bob")),
    ("* carol waves at *you*", ServerLine("action", "waves at *you*", "carol")),
    ("*** alice joined (2 online)", ServerLine("notice", "alice joined (2 online)")),
    ("ERR nick-in-use alice", ServerLine("error", "alice", code="nick-in-use")),
])
def test_server_lines_parse_and_format_back(text, parsed):
    assert parse_server_line(text) == parsed
    assert str(parsed) == text


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_any_bytes_from_a_client_give_only_well_formed_answers(chunks):
    room = ChatRoom(max_line=64)
    room.connect("x")
    room.connect("y")
    room.receive("y", b"/nick y\n")
    for chunk in chunks:
        for action in room.receive("x", chunk):
            if type(action) in (Send, Broadcast):
                assert action.line.endswith(b"\n") and action.line.count(b"\n") == 1
                action.line.decode("utf-8")           # every answer is valid UTF-8
            if type(action) is Send:
                assert action.to in ("x", "y")
    assert room.member("x") is None or room.member("x").framer.buffered <= 65
