"""Hypothesis: whatever a canister answers, the gateway answers with a clear page — never a
crash, never a 500, never a header the canister smuggled past it — and whatever the
certification headers say, verification fails with a reason and nothing else."""

from __future__ import annotations

import base64
import http.client
import struct

import cbor2
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from icchat.ic import candid
from icchat.ic.certificate import BlsKey
from icchat.ic.principal import Principal
from icchat.replica.http.gateway_cel import CelError, Certification, parse_expression
from icchat.replica.http.gateway_types import HTTP_RESPONSE, CanisterRequest
from icchat.replica.http.gateway_verify import VerificationError, verify_response

VALID_EXPRESSIONS = [
    "default_certification(ValidationArgs{no_certification:Empty{}})",
    'default_certification(ValidationArgs{certification:Certification{no_request_certification:Empty{},'
    'response_certification:ResponseCertification{certified_response_headers:ResponseHeaderList{headers:["content-type"]}}}})',
    'default_certification(ValidationArgs{certification:Certification{request_certification:RequestCertification{'
    'certified_request_headers:["x-a"],certified_query_parameters:["q"]},response_certification:ResponseCertification{'
    'response_header_exclusions:ResponseHeaderList{headers:[]}}}})',
]


@st.composite
def mutated(draw, texts: list[str]) -> str:
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()) and at < len(text):
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        else:
            text = text[:at] + draw(st.text("{}[](),:\"' \\abcEmpty_", max_size=6)) + text[at:]
    return text


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), mutated(VALID_EXPRESSIONS), st.just("[" * 5000 + "]" * 5000)))
def test_certificate_expressions_parse_or_fail_with_a_reason(text):
    try:
        assert isinstance(parse_expression(text), Certification)
    except CelError as error:
        assert str(error)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


FIELD_VALUES = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=80).map(lambda b: f":{b64(b)}:"),
    st.recursive(st.text(max_size=5) | st.binary(max_size=5) | st.integers(), lambda inner: st.lists(inner, max_size=4),
                 max_leaves=12).map(lambda v: f":{b64(cbor2.dumps(v))}:"),
)


@st.composite
def certificate_headers(draw) -> str:
    names = draw(st.lists(st.sampled_from(["certificate", "tree", "version", "expr_path", "other"]), max_size=6))
    return ", ".join(f"{name}={draw(FIELD_VALUES)}" for name in names) + draw(st.sampled_from(["", ",", " ,,", "=:"]))


ROOT_KEY = BlsKey.generate(b"fuzz root").public_key_der


@settings(max_examples=300, deadline=None)
@given(certificate_headers(), st.one_of(st.none(), st.sampled_from(VALID_EXPRESSIONS), st.text(max_size=30)),
       st.integers(0, 999), st.sampled_from(["/", "/index.html", "/a/b/", "/%ff", "/x?y=1"]))
def test_certification_headers_fail_verification_with_a_reason(header, expression, status, url):
    headers = [("IC-Certificate", header)] + ([("IC-CertificateExpression", expression)] if expression is not None else [])
    request = CanisterRequest("GET", url, [], b"")
    with pytest.raises(VerificationError) as failure:
        verify_response(request, status, headers, Principal.from_text("rrkah-fqaaa-aaaaa-aaaaq-cai"), ROOT_KEY, 10**18)
    assert str(failure.value)


HEADER_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
TOKEN_TEXT = st.text("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
VALUE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.one_of(st.integers(200, 599), st.integers(0, 999)),
       headers=st.lists(st.tuples(TOKEN_TEXT, VALUE_TEXT), max_size=5), odd=st.none() | st.tuples(HEADER_TEXT, HEADER_TEXT),
       body=st.binary(max_size=300), raw=st.booleans(), garbage=st.sampled_from([False, False, False, True]))
def test_any_canister_answer_gets_a_clear_page(http_replica, site, status, headers, odd, body, raw, garbage):
    headers = headers if odd is None else [*headers, odd]
    if garbage:  # not even an HttpResponse
        reply = body
    else:
        reply = candid.encode([HTTP_RESPONSE], [{"status_code": status % 65536, "headers": headers, "body": body,
                                                  "streaming_strategy": None, "upgrade": None}])
    http_replica.replica.update(site, "set_response", bytes([0]) + b"\0" * 32 + struct.pack("<I", len(reply)) + reply
                                + struct.pack("<I", 0))
    connection = http.client.HTTPConnection("127.0.0.1", http_replica.port, timeout=30)
    try:
        connection.request("GET", "/index.html", headers={"Host": f"{site}{'.raw' if raw else ''}.localhost"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    sent = {name.lower(): value for name, value in response.getheaders()}
    passed_on = False
    if garbage or not 200 <= status <= 599 or any(not name or set(name) - TOKEN_CHARS or set(value) & CONTROL for name, value in headers):
        event("refused: not a valid HTTP response")
        assert response.status in (502, 503), (response.status, data)
    elif not raw:
        event("refused: uncertified")
        assert response.status == 503 and b"IC-Certificate" in data  # nothing here is certified
    else:
        event("passed on (raw)")
        passed_on = True
        assert response.status == status
        # Every canister header arrived as itself (UTF-8 on the wire), and nothing else did.
        smuggled = set(sent) - {name.lower() for name, _ in headers} - {"content-length", "date", "server"}
        assert not smuggled, smuggled
        arrived = {(name.lower(), value.strip()) for name, value in response.getheaders()}
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "keep-alive"):
                assert (name.lower(), value.encode().decode("latin-1").strip()) in arrived, (name, value)
    assert response.status != 500 or passed_on  # a 500 is only ever the canister's own (raw) answer


TOKEN_CHARS = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
CONTROL = {chr(c) for c in range(0x20) if c != 9} | {"\x7f"}
