#!/usr/bin/env python3
"""Writes corpus/messages/: one raw queue MessageText per file, byte for byte.

The file name is the verdict (y_ accepted, i_ accepted with a deviation and rejected in strict
mode, n_ rejected); the next word names the rule. The files are the source of truth and are
committed; this script documents how the binary and base64 cases were made, and `scripts/test`
checks that it still writes exactly the committed files. Usage:
    scripts/make-message-corpus.py [OUTPUT_DIR]      (default: corpus/messages)
It rewrites every case it knows and leaves other files alone.
"""
import base64
import json
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "corpus", "messages")
P = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
I = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b"
ACCOUNT = "https://cvbackup.blob.core.windows.net/backups"
BLOB_URI = f"{ACCOUNT}/{P}%20-%20{I}.ONNX"
SAS_URI = (f"https://cvexport.blob.core.windows.net/models/{I}.zip"
           "?sv=2021-08-06&sr=b&sp=r&se=2030-01-01T00%3A00%3A00Z&sig=FAKEsignatureFAKE0000000000000000000000000%3D")

cases = {}


def raw(name, data):
    assert name not in cases, name
    cases[name] = data if isinstance(data, bytes) else data.encode("utf-8")


def msg(name, obj):
    """Compact JSON, keys in the order given."""
    raw(name, json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def b64(name, data):
    data = data if isinstance(data, bytes) else data.encode("utf-8")
    raw(name, base64.b64encode(data))


def conn(pid=P):
    return {"version": "1.0", "type": "ConnectionTest", "Content": {"projectId": pid}}


def training(status="TrainingCompleted", pid=P, iid=I):
    return {"version": "1.0", "type": "Training",
            "Content": {"projectId": pid, "iterationId": iid, "trainingStatus": status}}


def export(status="ExportCompleted", uri=BLOB_URI):
    return {"version": "1.0", "type": "Export",
            "Content": {"projectId": P, "iterationId": I, "exportStatus": status, "modelUri": uri}}


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# ---- accepted: the documented shapes ---------------------------------------------------------
msg("y_connection_test", conn())
raw("y_connection_test_doc_layout",
    '{\n"version": "1.0" ,\n"type": "ConnectionTest",\n"Content":\n    {\n    "projectId": "%s"\n    }\n}\n' % P)
msg("y_training_completed", training())
msg("y_training_failed", training("TrainingFailed"))
msg("y_export_completed_backup_blob", export())
msg("y_export_completed_sas_url", export(uri=SAS_URI))
msg("y_export_completed_azurite_http",
    export(uri=f"http://127.0.0.1:10000/devstoreaccount1/backups/{P}%20-%20{I}.CoreML"))
msg("y_export_completed_ipv6_host", export(uri=f"https://[::1]:10000/devstoreaccount1/backups/{P}%20-%20{I}.ONNX"))
e = export("ExportFailed"); del e["Content"]["modelUri"]; msg("y_export_failed_no_model_uri", e)
msg("y_export_failed_null_model_uri", export("ExportFailed", None))
msg("y_export_failed_with_model_uri", export("ExportFailed"))
msg("y_guid_upper_case", training(pid=P.upper(), iid=I.upper()))
msg("y_guid_mixed_case", conn("0F5a1C2e-3B4d-4E6f-8A9b-0C1d2E3f4A5b"))
msg("y_key_order_reversed", {"Content": {"trainingStatus": "TrainingCompleted", "iterationId": I, "projectId": P},
                             "type": "Training", "version": "1.0"})
raw("y_escaped_strings",
    '{"vers\\u0069on":"1.0","type":"\\u0054raining","Content":{"projectId":"%s","iterationId":"%s",'
    '"trainingStatus":"Training\\u0043ompleted"}}' % (P, I))
raw("y_whitespace_around", " \r\n\t" + dumps(conn()) + "\n\n  ")
raw("y_export_escaped_slashes", dumps(export()).replace("/", "\\/"))
# exactly the largest message: padded with whitespace to 65,536 bytes
body = dumps(conn())
raw("y_size_exactly_64kib", body + " " * (65536 - len(body)))
# ---- accepted: base64 -----------------------------------------------------------------------
b64("y_base64_connection_test", dumps(conn()))
b64("y_base64_training_failed", dumps(training("TrainingFailed")))
b64("y_base64_export_completed", dumps(export(uri=SAS_URI)))
b64("y_base64_doc_layout", '{\n"version": "1.0" ,\n"type": "ConnectionTest",\n"Content":\n    {\n    "projectId": "%s"\n    }\n}\n' % P)
for k, label in ((0, "a"), (1, "b"), (2, "c")):
    b64(f"y_base64_padding_variant_{label}", dumps(conn()) + " " * k)

# ---- accepted with a deviation ---------------------------------------------------------------
m = conn(); m["version"] = "1.1"; msg("i_version_1_1", m)
m = training(); m["version"] = "1.10"; msg("i_version_1_10", m)
msg("i_key_case_content", {"version": "1.0", "type": "ConnectionTest", "content": {"projectId": P}})
msg("i_key_case_project_id", {"version": "1.0", "type": "ConnectionTest", "Content": {"ProjectId": P}})
msg("i_key_case_version_type", {"Version": "1.0", "TYPE": "ConnectionTest", "Content": {"projectId": P}})
msg("i_key_case_dotless_i", {"version": "1.0", "type": "ConnectionTest", "Content": {"projectıd": P}})
m = training(); m["timestamp"] = "2026-11-26T07:00:00Z"; msg("i_unknown_top_key", m)
m = training(); m["Content"]["trainingTimeInMinutes"] = 12; msg("i_unknown_content_key", m)
m = training(); m["Content"]["extra"] = {"nested": [1, {"deep": None}]}; msg("i_unknown_key_nested_value", m)
m = training(); m["Content"]["exportStatus"] = "ExportCompleted"; msg("i_key_not_for_type", m)
m = conn(); m["Content"]["iterationId"] = I; msg("i_key_not_for_type_connection_test", m)
m = training(); m["type"] = "training"; msg("i_type_case", m)
msg("i_unrecognized_type", {"version": "1.0", "type": "Deployment", "Content": {"projectId": P, "anything": [1, 2]}})
msg("i_unrecognized_type_no_content", {"version": "1.0", "type": "Heartbeat"})
msg("i_unrecognized_type_empty", {"version": "1.0", "type": "", "Content": None})
m = conn(); m["note"] = "x"; b64("i_base64_unknown_key", dumps(m))
msg("i_many_deviations", {"Version": "1.2", "type": "Export", "content": {"projectid": P, "IterationId": I,
                          "exportStatus": "ExportCompleted", "modelUri": BLOB_URI, "trainingStatus": "TrainingCompleted",
                          "size": 3}, "extra": True})
raw("i_depth_128", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s"},"deep":%s%s}'
    % (P, "[" * 127, "]" * 127))

# ---- rejected: the text ----------------------------------------------------------------------
raw("n_empty", b"")
raw("n_whitespace_only", b" \n\t\r ")
raw("n_byte_order_mark", b"\xef\xbb\xbf" + dumps(conn()).encode())
raw("n_too_large", dumps(conn()) + " " * (65537 - len(dumps(conn()))))
raw("n_invalid_utf8_in_string", dumps(conn()).encode().replace(b'"1.0"', b'"1.\xff"'))
raw("n_overlong_utf8_slash", dumps(conn()).encode().replace(b'"1.0"', b'"1\xc0\xae0"'))
raw("n_utf16_le", dumps(conn()).encode("utf-16-le"))
raw("n_top_level_array", "[" + dumps(conn()) + "]")
raw("n_json_inside_a_string", json.dumps(dumps(conn())))
raw("n_top_level_number", "1")
raw("n_top_level_null", "null")
raw("n_trailing_characters", dumps(conn()) + " x")
raw("n_two_objects", dumps(conn()) + dumps(conn()))
raw("n_truncated", dumps(training())[:-7])
raw("n_depth_129", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s"},"deep":%s%s}'
    % (P, "[" * 128, "]" * 128))
raw("n_single_quotes", dumps(conn()).replace('"', "'"))
raw("n_trailing_comma", dumps(conn())[:-2] + ",}}")
raw("n_doc_export_sample_placeholder",
    '{\n"version": "1.0" ,\n"type": "Export",\n"Content":\n    {\n    "projectId": "%s",\n    "iterationId": "%s",\n'
    '    "exportStatus": "ExportCompleted",\n    "modelUri": {url}\n    }\n}' % (P, I))
raw("n_control_character_in_string", dumps(conn()).replace("1.0", "1.\x010"))
raw("n_lone_surrogate_escape", dumps(training()).replace('"TrainingCompleted"', '"\\ud800"'))
raw("n_number_out_of_range", dumps(conn())[:-1] + ',"n":1e999}')
raw("n_comment", "// note\n" + dumps(conn()))
# ---- rejected: base64 -------------------------------------------------------------------------
good = base64.b64encode(dumps(conn()).encode()).decode()
raw("n_base64_invalid_character", good[:10] + "!" + good[11:])
raw("n_base64_url_safe_alphabet", base64.urlsafe_b64encode(dumps(export(uri=SAS_URI) | {"x": "???>>>"}).encode()))
padded = next(base64.b64encode(dumps(conn()).encode() + b" " * k) for k in range(3)
              if base64.b64encode(dumps(conn()).encode() + b" " * k).endswith(b"=="))
raw("n_base64_missing_padding", padded.rstrip(b"="))
raw("n_base64_half_padding", padded[:-1])
raw("n_base64_extra_padding", good + "==")
raw("n_base64_trailing_newline", good + "\n")
raw("n_base64_line_wrapped", good[:40] + "\r\n" + good[40:])
raw("n_base64_non_canonical_last_symbol", base64.b64encode(b'{"a":1}')[:-2] + b"B=")
b64("n_base64_of_array", "[" + dumps(conn()) + "]")
raw("n_base64_of_base64", base64.b64encode(good.encode()))
b64("n_base64_of_invalid_utf8", dumps(conn()).encode().replace(b"1.0", b"1.\xfe"))
b64("n_base64_of_bom_json", b"\xef\xbb\xbf" + dumps(conn()).encode())
b64("n_base64_of_plain_text", "hello, queue")

# ---- rejected: envelope ----------------------------------------------------------------------
m = conn(); del m["version"]; msg("n_version_missing", m)
m = conn(); m["version"] = 1.0; msg("n_version_number", m)
m = conn(); m["version"] = None; msg("n_version_null", m)
m = conn(); m["version"] = "2.0"; msg("n_version_2_0", m)
m = conn(); m["version"] = "1"; msg("n_version_major_only", m)
m = conn(); m["version"] = "1.0.1"; msg("n_version_three_parts", m)
m = conn(); m["version"] = "v1.0"; msg("n_version_prefixed", m)
m = conn(); m["version"] = ""; msg("n_version_empty", m)
m = conn(); del m["type"]; msg("n_type_missing", m)
m = conn(); m["type"] = 1; msg("n_type_number", m)
m = conn(); m["type"] = None; msg("n_type_null", m)
m = conn(); del m["Content"]; msg("n_content_missing", m)
m = conn(); m["Content"] = [P]; msg("n_content_array", m)
m = conn(); m["Content"] = None; msg("n_content_null", m)
m = conn(); m["Content"] = dumps({"projectId": P}); msg("n_content_json_string", m)
# ---- rejected: repeated keys -------------------------------------------------------------------
raw("n_duplicate_key_type", '{"version":"1.0","type":"ConnectionTest","type":"Training","Content":{"projectId":"%s"}}' % P)
raw("n_duplicate_key_content_case", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s"},"content":{"projectId":"%s"}}' % (P, I))
raw("n_duplicate_key_project_id_case", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s","ProjectID":"%s"}}' % (P, I))
raw("n_duplicate_key_project_id_exact", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s","projectId":"%s"}}' % (P, I))
raw("n_duplicate_key_dotless_i", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s","projectıd":"%s"}}' % (P, I))
raw("n_duplicate_key_unknown", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s"},"note":1,"NOTE":2}' % P)
raw("n_duplicate_key_nested", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s","x":[{"a":1,"a":2}]}}' % P)
raw("n_duplicate_key_escaped", '{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"%s"},"\\u0076ersion":"1.0"}' % P)
raw("n_duplicate_key_unrecognized_type", '{"version":"1.0","type":"Other","Content":{"a":1,"A":2}}')
# ---- rejected: ids -----------------------------------------------------------------------------
msg("n_project_id_braced", conn("{%s}" % P))
msg("n_project_id_no_hyphens", conn(P.replace("-", "")))
msg("n_project_id_urn", conn("urn:uuid:" + P))
msg("n_project_id_misplaced_hyphen", conn(P[:8] + P[9] + "-" + P[10:]))
msg("n_project_id_not_hex", conn(P[:-1] + "g"))
msg("n_project_id_empty", conn(""))
msg("n_project_id_trailing_space", conn(P + " "))
msg("n_project_id_null", conn(None))
msg("n_project_id_number", conn(12345))
msg("n_project_id_missing", {"version": "1.0", "type": "ConnectionTest", "Content": {}})
m = training(); del m["Content"]["iterationId"]; msg("n_iteration_id_missing", m)
msg("n_iteration_id_fullwidth_digit", training(iid=I[:-1] + "\uff10"))
msg("n_iteration_id_object", training(iid={"id": I}))
# ---- rejected: statuses -----------------------------------------------------------------------
msg("n_training_status_lower_case", training("trainingcompleted"))
msg("n_training_status_polling_value", training("Completed"))
msg("n_training_status_export_value", training("ExportCompleted"))
msg("n_training_status_number", training(1))
m = training(); del m["Content"]["trainingStatus"]; msg("n_training_status_missing", m)
msg("n_export_status_polling_value", export("Done"))
msg("n_export_status_padded", export(" ExportCompleted"))
m = export(); del m["Content"]["exportStatus"]; msg("n_export_status_missing", m)
# ---- rejected: modelUri -----------------------------------------------------------------------
m = export(); del m["Content"]["modelUri"]; msg("n_model_uri_missing_when_completed", m)
msg("n_model_uri_null_when_completed", export(uri=None))
msg("n_model_uri_relative_path", export(uri=f"/backups/{P}%20-%20{I}.ONNX"))
msg("n_model_uri_scheme_relative", export(uri=f"//cvbackup.blob.core.windows.net/backups/x"))
msg("n_model_uri_ftp", export(uri="ftp://cvbackup.example/backups/x"))
msg("n_model_uri_javascript", export(uri="javascript:alert(1)"))
msg("n_model_uri_no_host", export(uri="https:///backups/x"))
msg("n_model_uri_unencoded_space", export(uri=f"{ACCOUNT}/{P} - {I}.ONNX"))
msg("n_model_uri_number", export(uri=7))
msg("n_model_uri_invalid_when_failed", export("ExportFailed", "not a uri"))

os.makedirs(OUT, exist_ok=True)
for name, data in sorted(cases.items()):
    with open(os.path.join(OUT, name + ".msg"), "wb") as f:
        f.write(data)
print(f"{len(cases)} cases: "
      + ", ".join(f"{sum(1 for n in cases if n.startswith(p))} {p}" for p in ("y_", "i_", "n_")))
