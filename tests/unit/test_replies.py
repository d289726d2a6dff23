"""Passive replies: every type's XML, text that would break XML, bad reply objects, and the seal
opened by an implementation that is not ours."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import reference_crypto
from tests.support.pushes import AES_KEY, APPID, OTHER_AES_KEY, TOKEN
from wxcomponent.domain.crypto import MessageCrypto
from wxcomponent.domain.replies import InvalidReply, reply_from, seal, text_reply


def rendered(reply_object: Any) -> ElementTree.Element:
    reply = reply_from(reply_object)
    assert reply is not None
    return ElementTree.fromstring(reply.xml("oUser", "gh_account", 1767225600))


def test_the_head_addresses_the_user_from_the_account() -> None:
    root = rendered({"type": "text", "content": "你好"})
    assert [child.tag for child in root] == ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"]
    assert root.findtext("ToUserName") == "oUser"
    assert root.findtext("FromUserName") == "gh_account"
    assert root.findtext("CreateTime") == "1767225600"
    assert (root.findtext("MsgType"), root.findtext("Content")) == ("text", "你好")


@pytest.mark.parametrize(
    ("reply_object", "expected"),
    [
        ({"type": "image", "media_id": "M1"}, {"MsgType": "image", "Image/MediaId": "M1"}),
        ({"type": "voice", "media_id": "M2"}, {"MsgType": "voice", "Voice/MediaId": "M2"}),
        (
            {"type": "video", "media_id": "M3", "title": "T", "description": "D"},
            {"MsgType": "video", "Video/MediaId": "M3", "Video/Title": "T", "Video/Description": "D"},
        ),
        (
            {"type": "music", "title": "T", "music_url": "http://m", "hq_music_url": "http://h", "thumb_media_id": "X"},
            {
                "MsgType": "music",
                "Music/Title": "T",
                "Music/MusicUrl": "http://m",
                "Music/HQMusicUrl": "http://h",
                "Music/ThumbMediaId": "X",
            },
        ),
        ({"type": "transfer_customer_service"}, {"MsgType": "transfer_customer_service"}),
        (
            {"type": "transfer_customer_service", "kf_account": "kf2001@gh_x"},
            {"MsgType": "transfer_customer_service", "TransInfo/KfAccount": "kf2001@gh_x"},
        ),
    ],
)
def test_each_reply_type_is_written_as_wechat_reads_it(reply_object: dict[str, Any], expected: dict[str, str]) -> None:
    root = rendered(reply_object)
    assert {path: root.findtext(path) for path in expected} == expected


def test_news_carries_its_count_and_items() -> None:
    root = rendered(
        {
            "type": "news",
            "articles": [
                {"title": "One", "description": "First", "pic_url": "http://p/1", "url": "http://u/1"},
                {"title": "Two", "url": "http://u/2"},
            ],
        }
    )
    assert root.findtext("ArticleCount") == "2"
    items = root.findall("Articles/item")
    assert [item.findtext("Title") for item in items] == ["One", "Two"]
    assert items[0].findtext("PicUrl") == "http://p/1"
    assert items[1].find("Description") is None


def test_optional_fields_left_out_are_not_written_empty() -> None:
    video = rendered({"type": "video", "media_id": "M"}).find("Video")
    assert video is not None
    assert [child.tag for child in video] == ["MediaId"]


def test_a_reply_text_with_cdata_ends_and_control_characters_is_still_valid_xml() -> None:
    root = rendered({"type": "text", "content": "a]]>b<![CDATA[c]]>]]>\x00\x1b\x7fd&<>"})
    assert root.findtext("Content") == "a]]>b<![CDATA[c]]>]]>\x7fd&<>"


@given(st.text(min_size=1, max_size=200))
def test_any_text_yields_a_document_that_parses_back_to_it(content: str) -> None:
    root = ElementTree.fromstring(text_reply(content).xml("o", "gh", 1))
    legal = "".join(
        c for c in content if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
    )
    assert (root.findtext("Content") or "") == legal.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("nothing", [None, {}])
def test_no_reply_is_none(nothing: object) -> None:
    assert reply_from(nothing) is None


@pytest.mark.parametrize(
    "bad",
    [
        "hello",
        ["text"],
        {"type": "sticker"},
        {"content": "no type"},
        {"type": "text"},
        {"type": "text", "content": ""},
        {"type": "text", "content": 42},
        {"type": "text", "content": "x" * 20_001},
        {"type": "image"},
        {"type": "video", "media_id": "M", "title": 7},
        {"type": "music", "title": "no thumb"},
        {"type": "news", "articles": []},
        {"type": "news", "articles": [{"title": str(i)} for i in range(9)]},
        {"type": "news", "articles": ["not an object"]},
        {"type": "news", "articles": [{}]},
        {"type": "transfer_customer_service", "kf_account": ""},
    ],
)
def test_what_cannot_be_a_reply_is_refused(bad: object) -> None:
    with pytest.raises(InvalidReply):
        reply_from(bad)


@pytest.mark.parametrize(("key_index", "aes_key"), [(0, AES_KEY), (1, OTHER_AES_KEY)])
def test_the_seal_opens_with_the_reference_implementation_and_the_key_that_was_used(
    key_index: int, aes_key: str
) -> None:
    crypto = MessageCrypto(TOKEN, [AES_KEY, OTHER_AES_KEY], APPID)
    document = text_reply("封好了 sealed").xml("oUser", "gh_account", 1767225600)
    body = seal(crypto, document, key_index=key_index, timestamp=1767225600, nonce="12345")
    outer = ElementTree.fromstring(body)
    assert (outer.findtext("TimeStamp"), outer.findtext("Nonce")) == ("1767225600", "12345")
    fields = reference_crypto.open_reply(body.encode(), TOKEN, aes_key, APPID)
    assert fields["Content"] == "封好了 sealed"
    assert fields["ToUserName"] == "oUser"


def test_a_reply_too_large_to_store_for_wechats_retries_is_refused() -> None:
    """Issue 19, S7: 8 articles of 4 fields of 20,000 CJK characters made an encrypted answer far
    over DynamoDB's 400 KB item, and the message URL answered 500. Now it is an invalid reply, and
    WeChat gets `success`."""
    field = "长" * 20_000
    article = {"title": field, "description": field, "pic_url": field, "url": field}
    with pytest.raises(InvalidReply, match="at most 65536 bytes"):
        reply_from({"type": "news", "articles": [article] * 8})
    with pytest.raises(InvalidReply, match="at most 65536 bytes"):
        reply_from({"type": "text", "content": "😀" * 16_385})  # 65,540 bytes in 16,385 characters
    assert reply_from({"type": "text", "content": "长" * 20_000}) is not None  # 60,000 bytes
