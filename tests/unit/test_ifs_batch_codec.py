"""The $batch codec against hand-written OData 4.0 §11.7 multipart bodies."""

from __future__ import annotations

import json

import pytest

from connector.ifs.batch import BatchFormatError, decode_responses, encode_gets


def test_gets_are_encoded_as_application_http_parts():
    body, content_type = encode_gets(["CustomerOrderSet(OrderNo='C1')",
                                      "CustomerOrderAddresses?$filter=OrderNo%20eq%20'C1'"])
    boundary = content_type.split("boundary=", 1)[1]
    assert content_type.startswith("multipart/mixed;boundary=batch_")
    text = body.decode()
    assert text.endswith(f"--{boundary}--\r\n")
    parts = text.split(f"--{boundary}")[1:-1]
    assert [p.split("\r\n\r\n")[1].split("\r\n")[0] for p in parts] == [
        "GET CustomerOrderSet(OrderNo='C1') HTTP/1.1",
        "GET CustomerOrderAddresses?$filter=OrderNo%20eq%20'C1' HTTP/1.1"]
    assert all("Content-Type: application/http\r\nContent-Transfer-Encoding: binary" in p for p in parts)


def _answer(*parts: tuple[str, dict, dict]) -> tuple[str, bytes]:
    chunks = []
    for status, headers, body in parts:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        chunks.append(
            "--batchresponse_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"HTTP/1.1 {status}\r\n{head}\r\n{json.dumps(body, ensure_ascii=False)}\r\n")
    return ("multipart/mixed; boundary=batchresponse_x",
            ("".join(chunks) + "--batchresponse_x--\r\n").encode("utf-8"))


def test_parts_decode_to_responses_with_status_headers_and_utf8_bodies():
    content_type, body = _answer(
        ("200 OK", {"Content-Type": "application/json;odata.metadata=minimal", "ETag": 'W/"abc"'},
         {"OrderNo": "C1", "Name": "Müller & Søn"}),
        ("404 Not Found", {"Content-Type": "application/json"},
         {"error": {"code": "ODP_RESOURCE_NOTFOUND", "message": "No such order"}}))
    ok, missing = decode_responses(content_type, body)
    assert ok.status_code == 200 and ok.headers["etag"] == 'W/"abc"'
    assert ok.json() == {"OrderNo": "C1", "Name": "Müller & Søn"}
    assert missing.status_code == 404 and missing.reason == "Not Found"
    assert missing.json()["error"]["code"] == "ODP_RESOURCE_NOTFOUND"


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"value": []}'),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"),
    ("multipart/mixed; boundary=b",
     b"--b\r\nContent-Type: application/http\r\n\r\nnot a status line\r\n\r\n{}\r\n--b--\r\n"),
])
def test_what_is_not_a_batch_answer_is_a_clear_error(content_type, body):
    with pytest.raises(BatchFormatError):
        decode_responses(content_type, body)
