"""`$batch` on the IFS sandbox over real HTTP (ifs-cloud.md §9; IFS docs
"Batch Requests"; OData 4.0 Part 1 §11.7).

Request bodies are written by hand in the documented multipart/mixed format;
responses are read with the standard library's MIME parser, so the sandbox's
own parser and serialiser are not what checks them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser

import pytest
import requests

from tests.sandbox.test_ifs_sandbox import CO, Ifs, error_of, ifs, server  # noqa: F401

CRLF = "\r\n"
JSON = "application/json;odata.metadata=minimal"


# ----------------------------------------------------------- the format

def http_part(method: str, url: str, body=None, headers: dict | None = None,
              content_id: str | None = None) -> str:
    """One individual request: MIME headers, blank line, the embedded request."""
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{method} {url} HTTP/1.1"]
    headers = dict(headers or {})
    text = ""
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
        text = json.dumps(body)
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["", text]
    return CRLF.join(lines)


def multipart(boundary: str, parts: list[str]) -> str:
    return "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts) + f"--{boundary}--{CRLF}"


def change_set(parts: list[str], boundary: str = "changeset_77162fcd") -> str:
    return f"Content-Type: multipart/mixed;boundary={boundary}{CRLF}{CRLF}" + multipart(boundary, parts)


def send(ifs: Ifs, parts: list[str], *, boundary: str = "abc123", headers: dict | None = None,
         projection: str = CO) -> requests.Response:
    return ifs.http.post(ifs.svc(projection, "$batch"), data=multipart(boundary, parts).encode(),
                         headers={"Content-Type": f"multipart/mixed;boundary={boundary}",
                                  **(headers or {})}, timeout=10)


@dataclass
class Answer:
    status: int
    reason: str
    headers: Message
    body: bytes
    content_id: str | None

    def json(self):
        return json.loads(self.body)


def answers(response: requests.Response) -> list:
    """The batch response's parts in order; a committed change set is a list."""
    assert response.status_code == 200, response.text
    content_type = response.headers["Content-Type"]
    assert content_type.startswith("multipart/mixed; boundary=batchresponse_")
    assert response.headers["OData-Version"] == "4.0"
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + response.content)
    assert message.is_multipart() and not message.defects, message.defects
    out = []
    for part in message.iter_parts():
        if part.get_content_type() == "multipart/mixed":
            assert part.get_boundary().startswith("changesetresponse_")
            out.append([_answer(inner) for inner in part.iter_parts()])
        else:
            out.append(_answer(part))
    return out


def _answer(part) -> Answer:
    assert part.get_content_type() == "application/http"
    assert part["Content-Transfer-Encoding"] == "binary"
    payload = part.get_payload(decode=True)
    head, _, body = payload.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    version, status, reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = HeaderParser().parsestr("\r\n".join(header_lines) + "\r\n\r\n")  # values as sent
    return Answer(int(status), reason, headers, body.rstrip(b"\r\n"), part["Content-ID"])


def part_error(answer: Answer) -> dict:
    assert answer.headers["Content-Type"] == JSON
    body = answer.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def stats(ifs: Ifs) -> dict:
    return requests.get(f"{ifs.url}/_sandbox/stats", timeout=5).json()


def order_path(order_no: str) -> str:
    return f"CustomerOrderSet(OrderNo='{order_no}')"


# -------------------------------------------------------- individual requests

def test_three_gets_answer_what_the_requests_answer_alone(ifs):
    order_no = ifs.order(lines=[{"PartNo": "P00001", "BuyQtyDue": 2},
                                {"PartNo": "P00002", "BuyQtyDue": 1}])
    ifs.order()  # another order and address, for the filter to leave out
    urls = [order_path(order_no), f"{order_path(order_no)}/OrderLinesArray",
            f"CustomerOrderAddresses?$filter=OrderNo%20eq%20'{order_no}'"]
    response = send(ifs, [http_part("GET", url, headers={"Accept": "application/json"})
                          for url in urls])
    got = answers(response)
    assert len(got) == 3
    for answer, url in zip(got, urls):
        alone = ifs.http.get(ifs.svc(CO, url), timeout=10)
        assert (answer.status, answer.reason) == (200, "OK")
        assert answer.headers["Content-Type"] == JSON
        assert answer.headers["OData-Version"] == "4.0"
        assert answer.json() == alone.json()
        assert answer.headers.get("ETag") == alone.headers.get("ETag")
    order, lines, addresses = (answer.json() for answer in got)
    assert order["@odata.etag"] == got[0].headers["ETag"]
    assert order["@odata.context"].endswith(f"/{CO}.svc/$metadata#CustomerOrderSet/$entity")
    assert [line["LineNo"] for line in lines["value"]] == ["1", "2"]
    assert [a["OrderNo"] for a in addresses["value"]] == [order_no]


def test_targets_may_be_absolute_paths_or_urls_of_the_same_service(ifs):
    order_no = ifs.order()
    service = ifs.svc(CO)
    path = service[len(ifs.url):]
    response = send(ifs, [http_part("GET", f"{path}{order_path(order_no)}"),
                          http_part("GET", f"{service}{order_path(order_no)}?$select=OrderNo"),
                          http_part("GET", "$metadata")])
    absolute, url, csdl = answers(response)
    assert absolute.json()["OrderNo"] == order_no
    assert url.json()["@odata.context"].endswith("$metadata#CustomerOrderSet/$entity")
    assert set(url.json()) == {"@odata.context", "@odata.etag", "luname", "keyref", "Objgrants",
                               "OrderNo"}
    assert csdl.headers["Content-Type"].startswith("application/xml")
    assert b'Name="CustomerOrderSet"' in csdl.body


def test_paging_inside_a_batch_links_to_the_normal_url(ifs):
    ifs.hook("seed", {"orders": 5, "parts": 10, "seed": 3})
    prefer = {"Prefer": "odata.maxpagesize=2"}
    url = "CustomerOrderSet?$orderby=OrderNo%20asc&$select=OrderNo"
    (answer,) = answers(send(ifs, [http_part("GET", url, headers=prefer)]))
    alone = ifs.http.get(ifs.svc(CO, url), headers=prefer, timeout=10)
    assert answer.json() == alone.json()
    assert answer.headers["Preference-Applied"] == "odata.maxpagesize=2"
    link = answer.json()["@odata.nextLink"]
    assert link.startswith(ifs.svc(CO, "CustomerOrderSet?")) and "$batch" not in link
    second = ifs.http.get(link, headers=prefer, timeout=10)
    assert second.status_code == 200 and len(second.json()["value"]) == 2


def test_writes_and_actions_as_individual_requests(ifs):
    order_no = ifs.order()
    etag = ifs.get(CO, order_path(order_no)).json()["@odata.etag"]
    response = send(ifs, [
        http_part("PATCH", order_path(order_no), {"CustRef": "batch"}, {"If-Match": etag}),
        http_part("POST", "CustomerOrderSet", {"CustomerNo": "CU-T", "Contract": "S01"},
                  {"Prefer": "return=representation"}, content_id="new"),
    ])
    patched, created = answers(response)
    assert (patched.status, patched.reason, patched.body) == (204, "No Content", b"")
    assert patched.headers["ETag"] != etag
    assert (created.status, created.reason, created.content_id) == (201, "Created", "new")
    new_no = created.json()["OrderNo"]
    assert created.headers["Location"] == ifs.svc(CO, order_path(new_no))
    fresh = ifs.get(CO, order_path(order_no)).json()
    assert fresh["CustRef"] == "batch" and fresh["@odata.etag"] == patched.headers["ETag"]
    assert ifs.get(CO, order_path(new_no)).status_code == 200
    assert stats(ifs)["writes"] == 2


# -------------------------------------------------------- stop / continue

def test_a_failing_part_stops_the_batch_without_continue_on_error(ifs):
    order_no = ifs.order()
    etag = ifs.get(CO, order_path(order_no)).json()["@odata.etag"]
    parts = [http_part("GET", order_path(order_no)),
             http_part("GET", "NoSuchSet"),
             http_part("PATCH", order_path(order_no), {"CustRef": "late"}, {"If-Match": etag})]
    got = answers(send(ifs, parts))
    assert [a.status for a in got] == [200, 404]  # the error is the last part
    assert part_error(got[1])["code"] == "ODP_RESOURCE_NOTFOUND"
    assert ifs.get(CO, order_path(order_no)).json()["CustRef"] is None  # not processed

    response = send(ifs, parts, headers={"Prefer": "odata.continue-on-error"})
    assert response.headers["Preference-Applied"] == "odata.continue-on-error"
    got = answers(response)
    assert [a.status for a in got] == [200, 404, 204]
    assert ifs.get(CO, order_path(order_no)).json()["CustRef"] == "late"


def test_part_errors_are_the_usual_envelopes(ifs):
    order_no = ifs.order()
    stale = ifs.get(CO, order_path(order_no)).json()["@odata.etag"]
    ifs.hook("bump", {"set": "CustomerOrderSet", "key": {"OrderNo": order_no}})
    got = answers(send(ifs, [
        http_part("PATCH", order_path(order_no), {"CustRef": "x"}, {"If-Match": stale}),
        http_part("DELETE", order_path(order_no)),
        http_part("PATCH", order_path(order_no), {"CustRef": "x"},
                  {"If-Match": "*", "Content-Type": "text/plain"}),
        http_part("GET", "CustomerOrderSet?$filter=Objstate%20eq%20'Released'"),
    ], headers={"Prefer": "odata.continue-on-error"}))
    assert [(a.status, part_error(a)["code"]) for a in got] == [
        (412, "ODP_PRECONDITION_FAILED"), (428, "ODP_MISSING_PRECONDITION"),
        (400, "ODP_DESERIALIZATION_ERROR"), (400, "ODP_BAD_REQUEST")]
    assert got[1].reason == "Precondition Required"
    assert "modified by another user" in part_error(got[0])["details"][0]["message"]


# ------------------------------------------------------------- change sets

def test_a_change_set_commits_all_its_requests(ifs):
    order_no = ifs.order()
    etag = ifs.get(CO, order_path(order_no)).json()["@odata.etag"]
    response = send(ifs, [
        change_set([
            http_part("PATCH", order_path(order_no), {"CustRef": "cs"}, {"If-Match": etag},
                      content_id="1"),
            http_part("POST", f"{order_path(order_no)}/OrderLinesArray",
                      {"PartNo": "P00009", "BuyQtyDue": 3}, content_id="2"),
        ]),
        http_part("GET", f"{order_path(order_no)}/OrderLinesArray"),
    ])
    committed, lines = answers(response)
    assert [(a.status, a.content_id) for a in committed] == [(204, "1"), (201, "2")]
    assert [line["PartNo"] for line in lines.json()["value"]] == ["P00001", "P00009"]
    assert ifs.get(CO, order_path(order_no)).json()["CustRef"] == "cs"
    assert stats(ifs)["writes"] == 2


def test_a_change_set_whose_second_write_fails_changes_nothing(ifs):
    order_no = ifs.order()
    before = ifs.get(CO, order_path(order_no)).json()
    lines_before = ifs.dump("CustomerOrderLineSet")
    parts = [
        change_set([
            http_part("PATCH", order_path(order_no), {"CustRef": "rolled back"},
                      {"If-Match": before["@odata.etag"]}, content_id="1"),
            http_part("POST", f"{order_path(order_no)}/OrderLinesArray",
                      {"PartNo": "P00009", "BuyQtyDue": 0}, content_id="2"),
        ]),
        http_part("GET", order_path(order_no)),
    ]
    got = answers(send(ifs, parts))
    assert len(got) == 1  # the failed change set stops the batch
    failed = got[0]
    assert not isinstance(failed, list)  # one response for the whole change set
    assert (failed.status, failed.content_id) == (500, "2")
    error = part_error(failed)
    assert error["code"] == "DATABASE_ERROR"
    assert error["details"][0]["message"].startswith("ORA-20110: CustomerOrderLine.QTYNEGATIVE")
    after = ifs.get(CO, order_path(order_no)).json()
    assert after == before  # the PATCH was rolled back, ETag included
    assert ifs.dump("CustomerOrderLineSet") == lines_before
    by_filter = ifs.get(CO, "CustomerOrderLineSet", {"$filter": f"OrderNo eq '{order_no}'"})
    assert [line["PartNo"] for line in by_filter.json()["value"]] == ["P00001"]
    assert stats(ifs)["writes"] == 0

    got = answers(send(ifs, parts, headers={"Prefer": "odata.continue-on-error"}))
    assert [a.status for a in got] == [500, 200]
    assert got[1].json() == before
    # The same change set goes through once it is valid, with the old ETag.
    parts[0] = parts[0].replace('"BuyQtyDue": 0', '"BuyQtyDue": 1')
    committed, order = answers(send(ifs, parts))
    assert [a.status for a in committed] == [204, 201]
    assert order.json()["CustRef"] == "rolled back"


def test_content_id_references_in_the_url_and_if_match(ifs):
    response = send(ifs, [change_set([
        http_part("POST", "CustomerOrderSet", {"CustomerNo": "CU-T", "Contract": "S01"},
                  content_id="1"),
        http_part("POST", "$1/OrderLinesArray", {"PartNo": "P00003", "BuyQtyDue": 2},
                  content_id="2"),
        http_part("PATCH", "$1", {"CustRef": "by reference"}, {"If-Match": "$1"},
                  content_id="3"),
        # $1 in If-Match is the entity's ETag as it is now, after part 3.
        http_part("PATCH", "$1", {"CustomerPoNo": "PO-1"}, {"If-Match": "$1"}, content_id="4"),
    ])])
    (committed,) = answers(response)
    assert [(a.status, a.content_id) for a in committed] == [
        (201, "1"), (201, "2"), (204, "3"), (204, "4")]
    order_no = committed[0].json()["OrderNo"]
    assert committed[1].json()["OrderNo"] == order_no
    order = ifs.get(CO, order_path(order_no)).json()
    assert (order["CustRef"], order["CustomerPoNo"]) == ("by reference", "PO-1")
    assert order["@odata.etag"] == committed[3].headers["ETag"] != committed[2].headers["ETag"]
    lines = ifs.get(CO, f"{order_path(order_no)}/OrderLinesArray").json()["value"]
    assert [(l["PartNo"], l["BuyQtyDue"]) for l in lines] == [("P00003", 2)]
    assert stats(ifs)["batch_parts"] == {f"{CO}/CustomerOrderSet": {"POST": 2, "PATCH": 2}}


def test_a_failed_change_set_takes_back_what_it_created(ifs):
    got = answers(send(ifs, [change_set([
        http_part("POST", "CustomerOrderSet", {"CustomerNo": "CU-T", "Contract": "S01"},
                  content_id="1"),
        http_part("PATCH", "$1", {"CustRef": "x"}, {"If-Match": 'W/"stale"'}, content_id="2"),
    ])]))
    assert got[0].status == 412 and got[0].content_id == "2"
    assert ifs.dump("CustomerOrderSet") == []
    assert ifs.get(CO, "CustomerOrderSet").json()["value"] == []


def test_references_only_work_inside_their_change_set(ifs):
    got = answers(send(ifs, [
        change_set([http_part("POST", "CustomerOrderSet", {"CustomerNo": "CU-T", "Contract": "S01"},
                              content_id="1")]),
        change_set([http_part("PATCH", "$1", {"CustRef": "x"}, {"If-Match": "*"},
                              content_id="2")], boundary="changeset_2"),
    ], headers={"Prefer": "odata.continue-on-error"}))
    assert got[0][0].status == 201
    assert got[1].status == 404 and part_error(got[1])["code"] == "ODP_RESOURCE_NOTFOUND"


def test_get_in_a_change_set_is_a_bad_request_and_nothing_runs(ifs):
    order_no = ifs.order()
    response = send(ifs, [
        http_part("PATCH", order_path(order_no), {"CustRef": "never"}, {"If-Match": "*"}),
        change_set([http_part("GET", order_path(order_no), content_id="1")]),
    ])
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "ODP_BAD_REQUEST"
    assert "GET" in error["message"] and "change set" in error["message"]
    assert ifs.get(CO, order_path(order_no)).json()["CustRef"] is None


# ----------------------------------------------------------- malformed

GOOD = http_part("GET", "CustomerOrderSet")


@pytest.mark.parametrize("content_type, body", [
    ("multipart/mixed", multipart("abc123", [GOOD])),  # no boundary
    ("application/json", multipart("abc123", [GOOD])),  # not multipart/mixed
    (None, multipart("abc123", [GOOD])),
    ("multipart/mixed;boundary=abc123", multipart("other", [GOOD])),  # wrong boundary
    ("multipart/mixed;boundary=abc123", multipart("abc123", [GOOD])[:-len("--\r\n")]),  # no close
    ("multipart/mixed;boundary=abc123", ""),
    ("multipart/mixed;boundary=abc123",
     multipart("abc123", [GOOD.replace("Content-Transfer-Encoding: binary\r\n", "")])),
    ("multipart/mixed;boundary=abc123",
     multipart("abc123", [GOOD.replace("application/http", "application/json")])),
    ("multipart/mixed;boundary=abc123", multipart("abc123", [GOOD.replace(" HTTP/1.1", "")])),
    ("multipart/mixed;boundary=abc123", multipart("abc123", [GOOD.replace("HTTP/1.1", "HTTP/1.0")])),
    ("multipart/mixed;boundary=abc123", multipart("abc123", [GOOD.replace("GET", "FETCH")])),
    ("multipart/mixed;boundary=abc123",
     multipart("abc123", [GOOD.replace("CustomerOrderSet", "CustomerOrderSet?$filter=a eq 1")])),
    ("multipart/mixed;boundary=abc123", multipart("abc123", [http_part(
        "GET", "/main/ifsapplications/projection/v1/InventoryPartInStockHandling.svc/"
               "InventoryPartInStockSet")])),  # another projection
    ("multipart/mixed;boundary=abc123", multipart("abc123", [http_part(
        "GET", "http://elsewhere.example/main/ifsapplications/projection/v1/"
               "CustomerOrderHandling.svc/CustomerOrderSet")])),
    ("multipart/mixed;boundary=abc123", multipart("abc123", [http_part("GET", "$batch")])),
    ("multipart/mixed;boundary=abc123", multipart("abc123", [change_set([http_part(
        "POST", "CustomerOrderSet", {"CustomerNo": "C", "Contract": "S01"})])])),  # no Content-ID
    ("multipart/mixed;boundary=abc123", multipart("abc123", [change_set([
        change_set([http_part("DELETE", "CustomerOrderSet(OrderNo='1')", content_id="1")],
                   boundary="inner")])])),  # nested change set
    ("multipart/mixed;boundary=abc123", multipart("abc123", [change_set([])])),
])
def test_malformed_batches_are_400_with_the_envelope(ifs, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    response = ifs.http.post(ifs.svc(CO, "$batch"), data=body.encode(), headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == JSON
    error = error_of(response)
    assert error["code"] == "ODP_BAD_REQUEST"
    assert error["message"].startswith("Malformed batch request: ")


def test_batch_is_post_only(ifs):
    response = ifs.get(CO, "$batch")
    assert response.status_code == 405
    assert error_of(response)["code"] == "ODP_METHOD_NOT_ALLOWED"


def test_bare_lf_line_ends_and_a_preamble_are_tolerated(ifs):
    order_no = ifs.order()
    body = ("This is a preamble.\n--b1\nContent-Type: application/http\n"
            "Content-Transfer-Encoding: binary\n\n"
            f"GET {order_path(order_no)} HTTP/1.1\n\n\n--b1--\n")
    response = ifs.http.post(ifs.svc(CO, "$batch"), data=body,
                             headers={"Content-Type": 'multipart/mixed; boundary="b1"'}, timeout=10)
    (answer,) = answers(response)
    assert answer.json()["OrderNo"] == order_no


# ------------------------------------------------- the batch as one HTTP call

def test_an_expired_token_is_401_for_the_whole_batch(ifs):
    order_no = ifs.order()
    ifs.hook("expire_tokens")
    response = send(ifs, [http_part("PATCH", order_path(order_no), {"CustRef": "x"},
                                    {"If-Match": "*"})])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "UNAUTHORIZED"
    assert ifs.dump("CustomerOrderSet")[0]["CustRef"] is None
    assert stats(ifs)["batch_parts"] == {}


def test_stats_count_the_batch_once_and_its_parts_apart(ifs):
    order_no = ifs.order()
    answers(send(ifs, [http_part("GET", order_path(order_no)),
                       http_part("GET", f"{order_path(order_no)}/OrderLinesArray"),
                       http_part("GET", "CustomerOrderAddresses"),
                       change_set([http_part("PATCH", order_path(order_no), {"CustRef": "s"},
                                             {"If-Match": "*"}, content_id="1")])]))
    counted = stats(ifs)
    assert counted["requests"] == {f"{CO}/$batch": {"POST": 1}}
    assert counted["total_requests"] == 1
    assert counted["batch_parts"] == {f"{CO}/CustomerOrderSet": {"GET": 2, "PATCH": 1},
                                      f"{CO}/CustomerOrderAddresses": {"GET": 1}}
    assert counted["writes"] == 1


def test_faults_apply_to_the_batch_as_one_call(ifs):
    order_no = ifs.order()
    patch = http_part("PATCH", order_path(order_no), {"CustRef": "lost"}, {"If-Match": "*"})
    ifs.hook("faults", {"mi_modified": 1})
    response = send(ifs, [patch])
    assert response.status_code == 500 and error_of(response)["code"] == "MI_MODIFIED_ERROR"
    assert ifs.dump("CustomerOrderSet")[0]["CustRef"] is None

    ifs.hook("faults", {"lost_response": 1})
    assert len(answers(send(ifs, [http_part("GET", order_path(order_no))]))) == 1  # no write
    response = send(ifs, [patch])
    assert response.status_code == 504 and error_of(response)["code"] == "GATEWAY_TIMEOUT"
    assert ifs.dump("CustomerOrderSet")[0]["CustRef"] == "lost"  # the write was done

    ifs.hook("faults", {"too_many": 1, "retry_after": 2})
    response = send(ifs, [patch])
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert stats(ifs)["faults_served"] == {"mi_modified": 1, "lost_response": 1, "too_many": 1}


def test_stale_etag_fault_hits_a_part(ifs):
    order_no = ifs.order()
    etag = ifs.get(CO, order_path(order_no)).json()["@odata.etag"]
    ifs.hook("faults", {"stale_etag": 1})
    (answer,) = answers(send(ifs, [http_part("PATCH", order_path(order_no), {"CustRef": "x"},
                                             {"If-Match": etag})]))
    assert answer.status == 412
