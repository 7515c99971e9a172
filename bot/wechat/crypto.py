"""Safe mode: the platform's AES-256-CBC envelope (no IO, so fixed vectors can test it).

Plaintext = 16 random bytes + 4-byte big-endian length + XML + AppId, PKCS#7-padded to
32 bytes; key = base64(EncodingAESKey + "="), IV = key[:16].
"""

from __future__ import annotations

import base64
import binascii
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wechat.errors import DecryptError, MalformedMessage
from bot.wechat.signature import check_signature, sign
from bot.wechat.xmlio import parse_fields, render_xml

BLOCK = 32


def aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes) -> bytes:
    if not data:
        raise DecryptError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise DecryptError("bad padding")
    return data[:-n]


def encrypt_text(key: bytes, app_id: str, text: str, random16: bytes | None = None) -> str:
    """Base64 ciphertext of `text` for `app_id` (random16 pinned only by tests)."""
    prefix = os.urandom(16) if random16 is None else random16
    body = text.encode("utf-8")
    plain = pkcs7_pad(prefix + struct.pack(">I", len(body)) + body + app_id.encode("utf-8"))
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt_text(key: bytes, app_id: str, encrypted: str) -> str:
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("Encrypt is not base64") from exc
    if not raw or len(raw) % 16:
        raise DecryptError("ciphertext length is not a multiple of the AES block")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise DecryptError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise DecryptError("declared length exceeds the plaintext")
    body, tail = plain[20 : 20 + length], plain[20 + length :]
    if tail.decode("utf-8", "replace") != app_id:
        raise DecryptError("AppId in the envelope does not match ours")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptError("message is not UTF-8") from exc


class WeChatCrypto:
    """Opens incoming envelopes and seals replies for one account."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.app_id = app_id

    def decrypt_message(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """Inner XML of an encrypted POST body, after checking msg_signature."""
        fields = parse_fields(body)
        encrypted = fields.get("Encrypt")
        if not encrypted:
            raise MalformedMessage("encrypted message without <Encrypt>")
        check_signature(msg_signature, self.token, timestamp, nonce, encrypted)
        return decrypt_text(self.key, self.app_id, encrypted).encode("utf-8")

    def encrypt_message(self, xml: str, timestamp: str, nonce: str, random16: bytes | None = None) -> str:
        """The platform's encrypted envelope around a reply (or a message, for the simulator)."""
        encrypted = encrypt_text(self.key, self.app_id, xml, random16)
        return render_xml(
            {
                "Encrypt": encrypted,
                "MsgSignature": sign(self.token, timestamp, nonce, encrypted),
                "TimeStamp": int(timestamp),
                "Nonce": nonce,
            }
        )
