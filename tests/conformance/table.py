# Writes the README's conformance table from the last test run's results (a TRX file): for each group of
# the Autobahn|Testsuite, what it checks and whether our tests of it passed, server side and client side.
# usage: python3 tests/conformance/table.py RESULTS.trx README.md
# The table goes between the README's "conformance:begin" and "conformance:end" markers.
import re, sys, xml.etree.ElementTree as ET

P = "LocalWebSocket.Tests."
PROBES = P + "Interop.IndependentPeerTests.Autobahn_style_probes_find_our_server_conformant"
MISBEHAVING = P + "Interop.IndependentPeerTests.Our_client_fails_a_misbehaving_server_with_the_right_close_code"
FAILED = P + "Server.FailedConnectionTests."
COMPRESSION = P + "Interop.CompressionTests."

# (group, what it checks, server-side tests, client-side tests, note); a test name matches as a prefix.
GROUPS = [
    ("1 Framing", "text and binary messages, 0 B to 16 MiB, types kept",
     [P + "Server.RoutingTests.Binary_and_text_of_every_size_arrive_whole_and_keep_their_type",
      P + "Interop.IndependentPeerTests.Python_websockets_client_reads_details_and_round_trips_through_our_server",
      P + "Interop.IndependentPeerTests.Node_ws_client_round_trips_through_our_server"],
     [P + "Client.ClientTests.Text_bytes_and_json_round_trip_with_helpers",
      P + "Interop.IndependentPeerTests.Our_client_round_trips_with_a_python_websockets_server"], ""),
    ("2 Pings and pongs", "pong with the ping's payload, fragmented ping refused, keep-alive between data frames",
     [PROBES, P + "Server.RoutingTests.Keep_alive_frames_written_between_coalesced_frames_never_corrupt_the_stream"],
     [P + "Interop.IndependentPeerTests.Our_client_answers_a_servers_ping"], ""),
    ("3 Reserved bits", "RSV1-3 without an extension fail with 1002; what arrived whole before is still echoed",
     [PROBES, FAILED + "Whole_messages_before_a_bad_frame_are_echoed_in_order_then_the_connection_fails"], [MISBEHAVING], ""),
    ("4 Opcodes", "reserved data and control opcodes fail with 1002; what arrived whole before is still echoed",
     [PROBES, FAILED + "Whole_messages_before_a_bad_frame_are_echoed_in_order_then_the_connection_fails"], [MISBEHAVING], ""),
    ("5 Fragmentation", "fragments reassembled, control frames between them, continuation with nothing to continue",
     [P + "Server.RoutingTests.Fragmented_messages_are_reassembled_and_relayed_whole", PROBES,
      FAILED + "Whole_messages_before_a_bad_frame_are_relayed_to_the_others_in_broadcast_mode"],
     [P + "Interop.IndependentPeerTests.Our_client_reassembles_fragments_with_a_ping_between_them"], ""),
    ("6 UTF-8", "invalid text fails with 1007, per fragment before the message ends",
     [PROBES, FAILED + "Invalid_UTF_8_in_a_fragment_fails_the_connection_before_the_message_ends"], [MISBEHAVING],
     "6.4.3/6.4.4 NON-STRICT: within one frame the BCL checks the bytes once the frame (or the read buffer) is "
     "full, not at the first bad byte; RFC 6455 section 8.1 asks to fail, not when"),
    ("7 Close", "close codes and reasons both ways, invalid close frames fail with 1002, 1001 on stop",
     [PROBES, P + "Server.LifecycleTests.Stop_closes_every_client_with_1001_and_restart_on_the_same_port_works_at_once",
      P + "Server.RoutingTests.Server_disconnects_one_client_with_a_code_and_reason"],
     [P + "Client.ClientTests.State_is_a_value_and_a_stream_and_disconnect_closes_with_1000",
      P + "Client.ClientTests.A_validation_close_surfaces_as_validation_failed"], ""),
    ("9 Limits", "16 MiB messages, 1,000 in a row, bursts read at once",
     [P + "Server.RoutingTests.A_burst_read_at_once_reaches_every_receiver_whole_and_in_order",
      COMPRESSION + "Python_websockets_and_node_ws_clients_exchange_0_B_to_16_MiB_and_1000_in_a_row_compressed_with_our_server"],
     [COMPRESSION + "Our_client_exchanges_0_B_to_16_MiB_and_1000_in_a_row_compressed_with_independent_servers"], ""),
    ("12 Compression", "permessage-deflate, default offer: 1,000 messages in a row, auto-fragmented, 0 B to 16 MiB",
     [COMPRESSION + "Python_websockets_and_node_ws_clients", COMPRESSION + "Autobahn_compression_cases_pass_against_our_server"],
     [COMPRESSION + "Our_client_exchanges", COMPRESSION + "Our_client_and_server_agree_on_every_parameter_combination"], ""),
    ("13 Compression parameters", "every offer/acceptance of window bits (8 to 15) and no-context-takeover",
     [COMPRESSION + "Autobahn_compression_cases_pass_against_our_server", P + "Protocol.DeflateNegotiationTests.The_server"],
     [COMPRESSION + "Our_client_passes_the_autobahn_compression_cases_as_the_echoing_side",
      P + "Protocol.DeflateNegotiationTests.The_client"],
     "an 8-bit window (zlib cannot compress with one) is granted by sending uncompressed"),
]


def outcomes(trx):
    ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
    results = {}
    for result in ET.parse(trx).getroot().iterfind(".//t:UnitTestResult", ns):
        results[result.get("testName")] = result.get("outcome")
    return results


def cell(results, prefixes):
    if not prefixes:
        return "not covered"
    matched = {name: outcome for name, outcome in results.items() if any(name.startswith(p) for p in prefixes)}
    missing = [p for p in prefixes if not any(name.startswith(p) for name in matched)]
    failed = [name for name, outcome in matched.items() if outcome != "Passed"]
    if failed or missing:
        return "FAILED: " + ", ".join(sorted(n.rsplit(".", 1)[-1] for n in failed + missing))
    return f"pass ({len(matched)} {'test' if len(matched) == 1 else 'tests'})"


def table(results, date):
    lines = ["| Group | What it checks | Server | Client | Note |", "|---|---|---|---|---|"]
    for group, checks, server, client, note in GROUPS:
        lines.append(f"| {group} | {checks} | {cell(results, server)} | {cell(results, client)} | {note} |")
    return f"Last run: {date}, generated by `tests/conformance/table.py` from the test command's results.\n\n" + "\n".join(lines)


trx, readme = sys.argv[1], sys.argv[2]
root = ET.parse(trx).getroot()
times = root.find("{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}Times")
date = (times.get("finish") if times is not None else "")[:10]
text = open(readme, encoding="utf-8").read()
section = "<!-- conformance:begin -->\n" + table(outcomes(trx), date) + "\n<!-- conformance:end -->"
new = re.sub(r"<!-- conformance:begin -->.*?<!-- conformance:end -->", lambda _: section, text, flags=re.S)
if new == text and section not in text:
    sys.exit("table.py: no conformance markers in " + readme)
open(readme, "w", encoding="utf-8").write(new)
print("conformance table written to", readme)
