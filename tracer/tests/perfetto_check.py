"""Reads a trace written by `tracer export --perfetto` with Perfetto's own published protobuf
definitions (PyPI package `perfetto`), checks what every valid trace of tracer's must hold, and
prints a JSON summary of its tracks, slices, instants and flows for the Rust test to assert on.

Usage: perfetto_check.py TRACE > summary.json  (exit status 1 with a message on a violation)
"""

import json
import sys

from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import BuiltinClock, Trace, TrackEvent


def fail(message):
    print(f"perfetto_check: {message}", file=sys.stderr)
    sys.exit(1)


def annotation_value(annotation):
    kind = annotation.WhichOneof("value")
    if kind is None:
        return [annotation_value(item) for item in annotation.array_values]
    return getattr(annotation, kind)


def main(path):
    trace = Trace()
    with open(path, "rb") as file:
        data = file.read()
    trace.ParseFromString(data)
    if trace.SerializeToString() != data:
        fail("the file holds fields or encodings the published protos do not describe")

    clocks = {}
    tracks = {}
    events = []
    for packet in trace.packet:
        if packet.trusted_packet_sequence_id != 1:
            fail(f"packet outside sequence 1: {packet}")
        kind = packet.WhichOneof("data")
        if kind == "clock_snapshot":
            for clock in packet.clock_snapshot.clocks:
                clocks[BuiltinClock.Name(clock.clock_id)] = clock.timestamp
        elif kind == "track_descriptor":
            track = packet.track_descriptor
            if track.uuid in tracks:
                fail(f"track {track.uuid} described twice")
            tracks[track.uuid] = track
        elif kind == "track_event":
            if not packet.HasField("timestamp"):
                fail(f"track event without a timestamp: {packet}")
            events.append((packet.timestamp, packet.track_event))
        else:
            fail(f"unexpected packet kind {kind}")
    if set(clocks) != {"BUILTIN_CLOCK_BOOTTIME", "BUILTIN_CLOCK_REALTIME"}:
        fail(f"the clock snapshot should map boot time to real time: {clocks}")
    to_wall = clocks["BUILTIN_CLOCK_REALTIME"] - clocks["BUILTIN_CLOCK_BOOTTIME"]

    summary = {"processes": {}, "threads": {}, "flows": [], "other_tracks": {}}
    for uuid, track in tracks.items():
        if track.HasField("process"):
            summary["processes"][uuid] = {
                "pid": track.process.pid,
                "name": track.process.process_name,
                "cmdline": list(track.process.cmdline),
                "slices": [],
            }
        elif track.HasField("thread"):
            parent = tracks.get(track.parent_uuid)
            if parent is None or not parent.HasField("process"):
                fail(f"thread track {uuid} has no process track as its parent")
            if parent.process.pid != track.thread.pid:
                fail(f"thread track {uuid} is of pid {track.thread.pid}, its parent of {parent.process.pid}")
            summary["threads"][uuid] = {
                "process": track.parent_uuid,
                "pid": track.thread.pid,
                "tid": track.thread.tid,
                "name": track.thread.thread_name,
                "slices": [],
                "instants": [],
            }
        else:
            summary["other_tracks"][uuid] = {"name": track.name, "instants": []}

    open_slices = {}
    flow_starts = {}
    flow_ends = {}
    last_ts = 0
    for ts, event in events:
        if ts < last_ts:
            fail("track events are not in time order")
        last_ts = ts
        uuid = event.track_uuid
        if uuid not in tracks:
            fail(f"event on undescribed track {uuid}: {event}")
        entry = summary["processes"].get(uuid) or summary["threads"].get(uuid) or summary["other_tracks"][uuid]
        args = {annotation.name: annotation_value(annotation) for annotation in event.debug_annotations}
        wall = ts + to_wall
        if event.type == TrackEvent.TYPE_SLICE_BEGIN:
            if uuid in open_slices:
                fail(f"slice {event.name!r} begins on track {uuid} inside another: tracer never nests slices")
            open_slices[uuid] = {"name": event.name, "begin": wall, "args": args}
            for flow in event.terminating_flow_ids:
                flow_ends[flow] = (uuid, wall)
        elif event.type == TrackEvent.TYPE_SLICE_END:
            if uuid not in open_slices:
                fail(f"slice end on track {uuid} without a begin")
            current = open_slices.pop(uuid)
            current["end"] = wall
            entry["slices"].append(current)
        elif event.type == TrackEvent.TYPE_INSTANT:
            if uuid in summary["threads"] and uuid not in open_slices:
                fail(f"instant {event.name!r} on thread track {uuid} outside its lifetime")
            entry["instants"].append({"ts": wall, "name": event.name, "args": args})
            for flow in event.flow_ids:
                if flow in flow_starts:
                    fail(f"flow {flow} starts twice")
                flow_starts[flow] = (uuid, wall)
        else:
            fail(f"unexpected event type {event.type}")
    if open_slices:
        fail(f"slices never ended on tracks {sorted(open_slices)}")
    if set(flow_starts) != set(flow_ends):
        fail(f"flows without both ends: {sorted(set(flow_starts) ^ set(flow_ends))}")
    for flow, (source, ts) in sorted(flow_starts.items()):
        target, begin = flow_ends[flow]
        if target not in summary["threads"]:
            fail(f"flow {flow} ends on a track that is not a thread's")
        summary["flows"].append({"from": source, "to": target, "ts": ts, "child_begin": begin})
    for uuid, thread in summary["threads"].items():
        if len(thread["slices"]) != 1:
            fail(f"thread track {uuid} should hold one slice over its life, holds {len(thread['slices'])}")
    # JSON object keys are strings.
    for group in ("processes", "threads", "other_tracks"):
        summary[group] = {str(uuid): entry for uuid, entry in summary[group].items()}
    for thread in summary["threads"].values():
        thread["process"] = str(thread["process"])
    for flow in summary["flows"]:
        flow["from"], flow["to"] = str(flow["from"]), str(flow["to"])
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: perfetto_check.py TRACE")
    main(sys.argv[1])
