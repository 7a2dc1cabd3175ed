"""The peer-to-peer chat's core, sans-I/O: announcements, membership, links and gossip (bytes in, actions
out). ``announce.py``: the discovery datagram and its codec; ``node.py``: ``PeerNode``, the peer itself.

Discovery (UDP, one datagram per heartbeat, to a multicast group or a broadcast address; over IPv6 to
the link-local group ``DISCOVERY_GROUP6`` ff02::4e53:5032 on one interface, the sender then known by its
link-local address with its scope, ``fe80::…%eth0``, which is also where its TCP port is dialed): an
``Announcement`` of 36 bytes, a fixed field table (like every ``netstudy.wire`` header)::

    magic "NSP2" (4) | version 1 (1) | kind 1=hello 2=bye (1) | TCP port (2) | peer id (8) | seq (4) | name (16)

in network byte order, ``struct`` format ``!4sBBHQI16s`` (the name UTF-8, NUL-padded). The sender's
address is the datagram's source address.

Links (TCP, one ``\\n``-terminated JSON object per line, framed by ``netstudy.wire.lines``): the first
line each side sends is ``{"t": "hello", "id": "<16 hex>", "name": ..., "port": ...}``; then messages::

    {"t": "msg", "id": "<origin hex>-<n>", "from": "<16 hex>", "name": ..., "to": null | "<16 hex>",
     "lamport": L, "ttl": T, "hops": H, "text": ...}

**Gossip**: a peer that receives a message whose id it has not seen delivers it (if it is public or
addressed to this peer), then forwards it once to every other neighbour with ``ttl - 1`` and
``hops + 1`` (not when ``ttl`` reaches 1); an id seen before is dropped (``seen`` is bounded: the last
``SEEN`` ids). Lamport clocks (Lamport 1978): a peer ticks before it sends and takes
``max(own, received) + 1`` on delivery, so a reply is always later than what it answers.

**Links**: the peers, sorted by id, form a ring; each peer dials its next ``links`` peers (all of them
when ``links`` is None) and closes a link it dialed when that peer is no longer one of them. Two links
between the same pair: the one dialed by the smaller id is kept.

**Membership**: a peer is ``ALIVE`` while it is heard (announcement or link line), ``SUSPECT`` after
``suspect`` seconds of silence, ``GONE`` after ``timeout`` seconds or a bye (its links are closed); a
heartbeat brings it back (table ``PEER``). A link is ``OPENING`` until its hello, then ``UP``
(table ``LINK``).

What is guaranteed, and what is not:

* Within a set of peers whose links form a connected graph of diameter below the hop limit, a message
  sent once the links are up reaches every one of them exactly once (duplicates are dropped by id).
* A message sent while the network is split reaches only the sender's side: there is no store and
  forward and no anti-entropy, so healing does not bring it to the other side. A message in flight on a
  link that breaks or is pruned may be lost.
* After a partition heals, the sides hear each other's heartbeats again, the peers declared ``GONE``
  come back ``ALIVE`` (a join event) and the ring re-forms: within one heartbeat interval plus a TCP
  connect once the link is back.
* Lamport times order causally related messages; concurrent ones are ordered by (time, origin id),
  the same order at every peer, not the order they were typed.
* Nothing is authenticated: a peer can lie about its name (two peers with one name are shown as
  ``name#abcd``). Malformed or hostile announcements and lines are logged and ignored, never raised.
"""
from netstudy.p2p.core.announce import (
    ANNOUNCE,
    ANNOUNCE_FORMAT,
    BYE,
    DEFAULT_HOST,
    DISCOVERY_GROUP,
    DISCOVERY_GROUP6,
    DISCOVERY_PORT,
    HELLO,
    HOP_LIMIT,
    KINDS,
    MAGIC,
    MAX_NAME,
    MAX_TEXT,
    NS_PER_S,
    VERSION,
    Announcement,
    Heard,
    check_name,
    decode_announcement,
    encode_announcement,
    host_port,
    name_problem,
)
from netstudy.p2p.core.node import (
    LINK,
    PEER,
    Action,
    Arrival,
    Close,
    Deliver,
    Dial,
    Event,
    Link,
    LinkState,
    Log,
    Member,
    Message,
    PeerNode,
    PeerState,
    Send,
)

__all__ = ["ANNOUNCE", "ANNOUNCE_FORMAT", "BYE", "DEFAULT_HOST", "DISCOVERY_GROUP", "DISCOVERY_GROUP6",
           "DISCOVERY_PORT", "HELLO", "HOP_LIMIT", "KINDS", "LINK", "MAGIC", "MAX_NAME", "MAX_TEXT", "NS_PER_S",
           "PEER", "VERSION", "Action", "Announcement", "Arrival", "Close", "Deliver", "Dial", "Event", "Heard",
           "Link", "LinkState", "Log", "Member", "Message", "PeerNode", "PeerState", "Send", "check_name",
           "decode_announcement", "encode_announcement", "host_port", "name_problem"]
