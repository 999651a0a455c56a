"""The E1381 link's states and the table of legal moves between them.

Following h11's ``_state.py``: the table is the single place that says which state follows
which, and the link asks it for every change, so an impossible move is a loud bug instead of
a silently wedged line. Two rules sit outside the table, in ``link.py``:

* the contention rule: when both ends bid at once, the instrument wins; a host yields and
  receives, an instrument waits (``CONTENTION_WAIT``) and bids again;
* the commit rule: the ACK of a final (ETX) frame is held in ``AWAITING_COMMIT`` until the
  caller has stored the message and calls ``accept_message``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class LinkState(enum.StrEnum):
    """Where the link stands. ``IDLE`` is the standard's neutral state."""

    IDLE = "idle"
    #: We answered the peer's ENQ with ACK and take frames.
    RECEIVING = "receiving"
    #: A final frame arrived; its ACK waits for ``accept_message``. Input is buffered meanwhile.
    AWAITING_COMMIT = "awaiting_commit"
    #: We sent ENQ and wait for the reply.
    BIDDING = "bidding"
    #: Instrument role only: both ends bid; we won and wait before bidding again.
    CONTENTION_WAIT = "contention_wait"
    #: We sent a frame and wait for ACK, NAK or EOT.
    SENDING = "sending"


class Trigger(enum.StrEnum):
    """What moved the link; names say what happened on the wire or in the caller."""

    ENQ_ACCEPTED = "enq_accepted"
    ENQ_REFUSED = "enq_refused"
    FINAL_FRAME = "final_frame"
    ACCEPTED = "accepted"
    PEER_EOT = "peer_eot"
    RECEIVE_TIMEOUT = "receive_timeout"
    BID = "bid"
    BID_ACCEPTED = "bid_accepted"
    BID_REFUSED = "bid_refused"
    BID_TIMEOUT = "bid_timeout"
    CONTENTION_PRIORITY = "contention_priority"
    SEND_FINISHED = "send_finished"
    SEND_ABORTED = "send_aborted"


class LinkStateError(RuntimeError):
    """A move the table does not allow: a bug in the link, never caused by wire input."""


_S = LinkState
_T = Trigger

TRANSITIONS: Mapping[tuple[LinkState, Trigger], LinkState] = MappingProxyType(
    {
        # receiving side
        (_S.IDLE, _T.ENQ_ACCEPTED): _S.RECEIVING,
        (_S.IDLE, _T.ENQ_REFUSED): _S.IDLE,
        (_S.RECEIVING, _T.ENQ_ACCEPTED): _S.RECEIVING,  # peer re-bid (e.g. after contention)
        (_S.RECEIVING, _T.ENQ_REFUSED): _S.IDLE,
        (_S.RECEIVING, _T.FINAL_FRAME): _S.AWAITING_COMMIT,
        (_S.RECEIVING, _T.PEER_EOT): _S.IDLE,
        (_S.RECEIVING, _T.RECEIVE_TIMEOUT): _S.IDLE,
        (_S.AWAITING_COMMIT, _T.ACCEPTED): _S.RECEIVING,
        (_S.AWAITING_COMMIT, _T.RECEIVE_TIMEOUT): _S.IDLE,
        # sending side
        (_S.IDLE, _T.BID): _S.BIDDING,
        (_S.BIDDING, _T.BID_ACCEPTED): _S.SENDING,
        (_S.BIDDING, _T.BID_REFUSED): _S.IDLE,
        (_S.BIDDING, _T.BID_TIMEOUT): _S.IDLE,
        (_S.BIDDING, _T.CONTENTION_PRIORITY): _S.CONTENTION_WAIT,
        (_S.BIDDING, _T.ENQ_ACCEPTED): _S.RECEIVING,  # host yields to the instrument
        (_S.BIDDING, _T.ENQ_REFUSED): _S.IDLE,  # host yields but is busy
        (_S.CONTENTION_WAIT, _T.BID): _S.BIDDING,
        (_S.CONTENTION_WAIT, _T.BID_ACCEPTED): _S.SENDING,  # the host ACKed our first ENQ
        (_S.SENDING, _T.SEND_FINISHED): _S.IDLE,
        (_S.SENDING, _T.SEND_ABORTED): _S.IDLE,
    }
)


def next_state(state: LinkState, trigger: Trigger) -> LinkState:
    """The state ``trigger`` leads to from ``state``; raises LinkStateError if none."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise LinkStateError(f"no transition from {state.value!r} on {trigger.value!r}") from None
