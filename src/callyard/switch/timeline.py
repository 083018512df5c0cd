"""Where each RTP packet of one direction of a call lands on the call's timeline.

A packet is placed by its RTP timestamp, the sender's own clock (8 kHz for G.711), not by
when the relay captured it: jitter, reordering and the burst after a network stall move
nothing, consecutive packets join without gaps or overlaps, and lost packets leave silence
of their length. Capture times only anchor a stream to the call's timeline: the anchor is
the median of capture time minus timestamp over a second of packets, so that what both
sides of a call said at the same moment lines up.

Each SSRC is a stream of its own, anchored by its own capture times. Within a stream,
packets are taken in sequence order (a duplicate once) and timestamps are unwrapped past 32
bits. The anchor moves where capture times and timestamps part for good, as when a sender
held its timestamp through a silence or jumped it, and only if the median of the packets
that follow agrees: by more than a packet's 20 ms at a talk spurt's start (a marked packet,
or one whose timestamp does not follow on from the packet before), where the silence before
takes up the move; by more than 200 ms elsewhere, where a move would open a gap in the
audio or overwrite some. A lone packet more than a second off (a corrupt timestamp) is
dropped.
"""

from __future__ import annotations

from operator import itemgetter

RATE = 8000

# (capture time, payload type, marker bit, sequence number, timestamp, SSRC, payload start,
# payload end)
Packet = tuple[float, int, int, int, int, int, int, int]
# (sample from the epoch, payload type, payload start, payload end)
Placed = tuple[int, int, int, int]

# Packets whose median offset (capture minus timestamp) anchors a stretch of a stream: a
# second's worth, so that a stall's late packets, fewer, cannot move it.
_WINDOW = 50
# Packets a stretch needs to move the anchor: fewer are strays (a corrupt timestamp).
_CONFIRMING = 3
# How far (in samples) offsets may stray before the anchor moves: a packet at a talk
# spurt's start, where a sender may have held or jumped its timestamp...
_SPURT_TOLERANCE = RATE // 50
# ...and anywhere else, where late packets, the burst after a stall and a lasting change
# of the network's delay stray as far.
_STALL_TOLERANCE = RATE // 5
# A packet this far from its anchor that no other packet confirms is dropped: it would
# otherwise stretch the recording by its corrupt or hopelessly late timestamp.
_STRAY = RATE

_BY_SEQUENCE = itemgetter(0)
# How a packet stands to the one before it: its timestamp follows on; it follows on but the
# packet is marked (a talk spurt's first, after a silence the timestamps may not show);
# its timestamp does not follow on.
_ON, _MARKED, _BREAK = 0, 1, 2


class _Stream:
    """One SSRC's packets with their unwrapped sequence numbers, as captured."""

    __slots__ = ("packets", "seq", "useq")

    def __init__(self, seq: int) -> None:
        self.packets: list[tuple[int, Packet]] = []
        self.seq = seq  # the highest sequence number so far, as sent
        self.useq = seq  # the same, unwrapped


def place(packets: list[Packet], epoch: float) -> list[Placed]:
    """Every packet's place on the timeline, in samples from `epoch` (a capture time), in the
    order to write them: where two overlap, the later one's audio stays."""
    placed: list[Placed] = []
    for stream in _streams(packets):
        _place_stream(stream.packets, epoch, placed)
    return placed


def _streams(packets: list[Packet]) -> list[_Stream]:
    """The packets of each SSRC, in the order the SSRCs began."""
    by_ssrc: dict[int, _Stream] = {}
    stream, last_ssrc = _Stream(0), -1  # the last packet's stream, usually the next one's
    for packet in packets:
        seq, ssrc = packet[3], packet[5]
        if ssrc != last_ssrc:
            known = by_ssrc.get(ssrc)
            if known is None:
                known = by_ssrc[ssrc] = _Stream(seq)
            stream, last_ssrc = known, ssrc
        step = ((seq - stream.seq + 0x8000) & 0xFFFF) - 0x8000
        if step > 0:
            stream.seq = seq
            stream.useq += step
            stream.packets.append((stream.useq, packet))
        else:
            stream.packets.append((stream.useq + step, packet))
    return list(by_ssrc.values())


def _place_stream(entries: list[tuple[int, Packet]], epoch: float, placed: list[Placed]) -> None:
    entries.sort(key=_BY_SEQUENCE)  # stable: of two copies, the first captured comes first
    last_useq, first = entries[0]
    time, last_ts, last_marker = first[4], first[4], first[2]
    last_length = first[7] - first[6]
    kept = [first]
    times = [time]  # unwrapped timestamps
    offsets = [round((first[0] - epoch) * RATE) - time]  # capture time minus timestamp
    starts = [_BREAK]  # how each packet may start a talk spurt: _ON, _MARKED or _BREAK
    for useq, packet in entries:
        if useq == last_useq:  # the first packet, or a copy of the last one
            continue
        moment, _, marker, _, ts, _, begin, end = packet
        step = ((ts - last_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        time += step
        # Lost packets skip their timestamps as well as their sequence numbers; packets of
        # other payload types (events, comfort noise) skip sequence numbers only.
        if not 0 < step <= (useq - last_useq) * last_length:
            starts.append(_BREAK)
        else:  # a sender that marks every packet marks nothing
            starts.append(_MARKED if marker and not last_marker else _ON)
        kept.append(packet)
        times.append(time)
        offsets.append(round((moment - epoch) * RATE) - time)
        last_useq, last_ts, last_length, last_marker = useq, ts, end - begin, marker

    window = _window(offsets, starts, 0)
    anchor = window[(len(window) - 1) // 2]
    for at, (packet, time, offset, start) in enumerate(
        zip(kept, times, offsets, starts, strict=True)
    ):
        tolerance = _SPURT_TOLERANCE if start else _STALL_TOLERANCE
        if not -tolerance <= offset - anchor <= tolerance:
            window = _window(offsets, starts, at)
            median = window[(len(window) - 1) // 2]
            if len(window) >= _CONFIRMING and not -tolerance <= median - anchor <= tolerance:
                anchor = median
            elif not -_STRAY <= offset - anchor <= _STRAY:
                continue
        placed.append((time + anchor, packet[1], packet[6], packet[7]))


def _window(offsets: list[int], starts: list[int], first: int) -> list[int]:
    """The offsets of up to _WINDOW packets from `first` on, within its talk spurt, sorted."""
    last = min(first + _WINDOW, len(offsets))
    for at in range(first + 1, last):
        if starts[at]:
            last = at
            break
    return sorted(offsets[first:last])
