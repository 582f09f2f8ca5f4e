"""FAQ sets: loading (path, bytes, JSON, CSV), entries, search, and loading errors."""

from pathlib import Path

import pytest

import supportbot
from conftest import SHOP_CSV, SHOP_JSON, THRESHOLD


@pytest.fixture
def plain_engine():
    # No database, no secret key: FAQ search needs neither.
    with supportbot.Engine() as e:
        yield e


def test_load_from_path_str_pathlike_and_bytes(plain_engine):
    a = plain_engine.load_faqs(str(SHOP_JSON))
    b = plain_engine.load_faqs(Path(SHOP_JSON))
    c = plain_engine.load_faqs(SHOP_JSON.read_bytes(), format="json")
    assert len(a) == len(b) == len(c) == 6
    assert [e.id for e in a] == [e.id for e in c]
    for s in (a, b, c):
        s.close()


def test_entries_iteration_and_lookup(plain_engine):
    with plain_engine.load_faqs(SHOP_JSON) as faqs:
        entries = list(faqs)
        assert [e.index for e in entries] == list(range(6))
        first = entries[0]
        assert first.id == "track-order"
        assert first.question == "How can I track my order?"
        assert first.answer.startswith("Open Account > Orders")
        assert first.category == "orders"
        assert first.alternates == ["where is my package", "has my order shipped",
                                    "tracking number for my order"]
        assert first.tags == ["tracking", "orders"]
        assert faqs[-1].id == "reset-password"
        assert faqs["refund-time"].question == "How long does a refund take?"
        assert faqs.find("refund-time") == 2
        assert "refund-time" in faqs and "nope" not in faqs and 3 not in faqs
        with pytest.raises(IndexError):
            faqs[6]
        with pytest.raises(supportbot.NotFound) as e:
            faqs.find("nope")
        assert e.value.status_name == "SB_ENOTFOUND"
        # Answer when a right answer is likelier than an uncovered question.
        assert faqs.default_threshold == pytest.approx(0.5)


def test_csv(plain_engine):
    faqs = plain_engine.load_faqs(SHOP_CSV)
    assert [e.id for e in faqs] == ["shipping-cost", "gift-wrap"]
    assert faqs[0].alternates == ["delivery fee", "shipping price"]
    assert faqs[0].category == ""
    same = plain_engine.load_faqs(SHOP_CSV.read_bytes(), format="csv")
    assert [e.answer for e in same] == [e.answer for e in faqs]


def test_search(plain_engine):
    faqs = plain_engine.load_faqs(SHOP_JSON)
    r = faqs.search("where is my package", k=3, threshold=THRESHOLD)
    assert r.answered
    assert len(r) == len(r.hits) == 3
    assert r.best is r.hits[0] and r[0] is r.hits[0]
    top = r.hits[0]
    assert (top.id, top.index) == ("track-order", 0)
    assert top.question == "How can I track my order?"
    assert top.answer == faqs[0].answer
    assert 0.0 <= top.confidence <= 1.0 and isinstance(top.score, float)
    confidences = [h.confidence for h in r]
    assert confidences == sorted(confidences, reverse=True)
    assert faqs.search("refund status", threshold=THRESHOLD).best.id == "refund-time"
    # The same query with the default threshold: an alternate of the FAQ, answered.
    default = faqs.search("where is my package")
    assert default.answered and default.best.id == "track-order"
    # Out of scope, and nothing searchable.
    assert not faqs.search("what is the meaning of life", threshold=THRESHOLD).answered
    empty = faqs.search("   ")
    assert not empty.answered and empty.hits == [] and empty.best is None
    assert len(faqs.search("order", k=1)) == 1
    with pytest.raises(supportbot.InvalidArgument):
        faqs.search("order", k=0)


def test_search_after_engine_close():
    e = supportbot.Engine()
    faqs = e.load_faqs(SHOP_JSON)
    e.close()
    e.close()  # twice is fine
    assert faqs.search("reset my password", threshold=THRESHOLD).best.id == "reset-password"
    with pytest.raises(ValueError, match="closed"):
        e.load_faqs(SHOP_JSON)
    faqs.close()
    with pytest.raises(ValueError, match="closed"):
        faqs.search("x")


def test_loading_errors(plain_engine, tmp_path):
    with pytest.raises(supportbot.InvalidData) as e:
        plain_engine.load_faqs(b'[{"question": "q", "answer": "a"}, {"question": "q2"}]')
    assert e.value.place == "entry 2"
    assert e.value.status == -9 and e.value.status_name == "SB_EINVALID_DATA"
    assert "answer" in e.value.message and "entry 2" in str(e.value)
    assert isinstance(e.value, supportbot.Error) and isinstance(e.value, ValueError)

    with pytest.raises(supportbot.InvalidData) as e:
        plain_engine.load_faqs(b"id,question,answer\n1,,b\n", format="csv")
    assert e.value.place == "line 2, column 2"

    with pytest.raises(supportbot.ParseError) as e:
        plain_engine.load_faqs(b'[{"question": ')
    assert e.value.status_name == "SB_EPARSE"

    with pytest.raises(supportbot.LimitExceeded):
        plain_engine.load_faqs(SHOP_JSON, max_entries=2)
    with pytest.raises(supportbot.LimitExceeded):
        plain_engine.load_faqs(SHOP_JSON.read_bytes(), max_bytes=100)

    with pytest.raises(supportbot.IOFailure) as e:
        plain_engine.load_faqs(tmp_path / "missing.json")
    assert e.value.status_name == "SB_EIO"

    with pytest.raises(supportbot.InvalidArgument):
        plain_engine.load_faqs(SHOP_JSON, format="yaml")
    with pytest.raises(TypeError):
        plain_engine.load_faqs(42)
    with pytest.raises(supportbot.InvalidArgument):
        plain_engine.load_faqs("bad\0path")


def test_error_classes():
    # One class per status code, all under supportbot.Error.
    statuses = range(-15, 0)
    classes = [supportbot.error_class(s) for s in statuses]
    assert len(set(classes)) == 15
    for s, cls in zip(statuses, classes):
        assert issubclass(cls, supportbot.Error) and cls.status == s
    assert supportbot.error_class(-6) is supportbot.NotFound
    assert supportbot.error_class(-13) is supportbot.Forbidden
    assert supportbot.error_class(-15) is supportbot.Unauthenticated
    assert supportbot.error_class(-999) is supportbot.Error
    assert supportbot.NotFound("x").status_name == "SB_ENOTFOUND"


def test_engine_options():
    with pytest.raises(TypeError, match="unknown option"):
        supportbot.Engine(no_such_option=1)
    with pytest.raises(supportbot.InvalidArgument):
        supportbot.Engine(pool_size=-1)
    with pytest.raises(supportbot.InvalidArgument):
        supportbot.Engine(language="klingon")
    with supportbot.Engine(language="english", history_turns=3, max_unanswered=4) as e:
        assert not e.closed
    assert e.closed
    assert supportbot.library_abi_version() == supportbot.ABI_VERSION == 2
    assert supportbot.library_version().count(".") == 2
