"""Issue 27's first bad case: the decoded-image cache could be poisoned. Its folder was 0755, unchecked and followed
through links, and an entry was checked only against a SHA-256 stored beside it, which whoever could write the folder
could forge too: a forged entry was trained on while config.json recorded the genuine folder's digest. Now the
folder must be this user's alone and every entry is sealed under a secret key (aelab.private_files); whatever fails
is decoded afresh from the images, so what is trained on is always the decoding of the folder the digest names."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pytest
from custom_data_files import age_files, digits, write_png_folder

from aelab import private_files
from aelab.data.custom import decoded_cache, image_folder, read_samples
from aelab.data.custom.image_folder import read_image_folder


@pytest.fixture
def folder(tmp_path):
    images, labels = digits()
    return age_files(write_png_folder(tmp_path / "f", images[:30], labels[:30]))


@pytest.fixture
def decodes(monkeypatch):
    """How many times the images were decoded (a load served by the cache decodes none)."""
    counted = []
    real = image_folder.decode_images
    monkeypatch.setattr(image_folder, "decode_images", lambda *a: counted.append(1) or real(*a))
    return counted


def genuine(folder) -> np.ndarray:
    return read_image_folder(folder, use_cache=False).train.x


def forge(entry, pixels: np.ndarray) -> None:
    """Replace a cache entry's array as a neighbour who can write the folder would, with every digest recomputed."""
    np.save(entry, pixels, allow_pickle=False)
    payload = entry.read_bytes()
    name = entry.stem
    record = entry.with_suffix(".json")
    stolen_key = os.urandom(private_files.KEY_BYTES)  # not the user's: the one thing a forger cannot have
    seal = private_files.seal(stolen_key, name, np.frombuffer(payload, np.uint8))
    record.write_text(json.dumps({"sha256": hashlib.sha256(payload).hexdigest(), "seal": seal}))


def test_a_forged_entry_with_its_digest_recomputed_is_never_trained_on(folder, decodes):
    first = read_samples(folder)
    (entry,) = decoded_cache.folder().glob("v*.npy")
    poisoned = np.full_like(first.train.x, 255)
    forge(entry, poisoned)
    decodes.clear()
    again = read_samples(folder)
    assert decodes == [1] and np.array_equal(again.train.x, genuine(folder))  # decoded afresh from the images
    assert again.digest == first.digest
    assert not np.array_equal(np.load(entry), poisoned)  # and the entry rebuilt from them


def test_a_cache_copied_from_another_user_is_not_trusted(folder, tmp_path, decodes, monkeypatch):
    read_samples(folder)
    theirs = tmp_path / "their-cache"
    shutil.copytree(decoded_cache.folder(), theirs)
    (theirs / private_files.KEY_NAME).write_bytes(os.urandom(private_files.KEY_BYTES))  # a cache keyed by another
    shutil.rmtree(decoded_cache.folder())
    shutil.copytree(theirs, decoded_cache.folder())
    decodes.clear()
    again = read_samples(folder)
    assert decodes == [1] and np.array_equal(again.train.x, genuine(folder))


def test_a_cache_folder_that_is_a_link_is_neither_read_nor_written(folder, tmp_path, decodes):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    decoded_cache.folder().parent.mkdir(parents=True, exist_ok=True)
    decoded_cache.folder().symlink_to(elsewhere)
    first, again = read_samples(folder), read_samples(folder)
    assert decodes == [1, 1] and np.array_equal(again.train.x, first.train.x)  # no cache: decoded each time
    assert list(elsewhere.iterdir()) == []


def test_a_cache_folder_of_another_user_is_not_used(folder, decodes, monkeypatch):
    read_samples(folder)
    owner = decoded_cache.folder().stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)  # the folder, its key and entries are now someone else's
    decodes.clear()
    again = read_samples(folder)
    assert decodes == [1] and np.array_equal(again.train.x, genuine(folder))


def test_an_open_folder_is_made_private_and_entries_others_could_write_are_rebuilt(folder, decodes):
    read_samples(folder)
    cache = decoded_cache.folder()
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in cache.iterdir()} == {"0o600"}
    (entry,) = cache.glob("v*.npy")
    cache.chmod(0o777), entry.chmod(0o666)  # as an older aelab, or a careless umask, left them
    decodes.clear()
    read_samples(folder)
    assert decodes == [1] and oct(cache.stat().st_mode & 0o777) == "0o700"
    assert oct(entry.stat().st_mode & 0o777) == "0o600"  # rebuilt privately: the next load is served
    read_samples(folder)
    assert decodes == [1]


def test_an_entry_that_is_a_link_is_not_followed(folder, tmp_path, decodes):
    read_samples(folder)
    (entry,) = decoded_cache.folder().glob("v*.npy")
    copy = tmp_path / "copy.npy"
    shutil.copy(entry, copy)
    entry.unlink()
    entry.symlink_to(copy)  # the same bytes, through a link: not opened
    decodes.clear()
    read_samples(folder)
    assert decodes == [1] and not entry.is_symlink()


def test_two_processes_agree_on_one_key(tmp_path):
    """The key is made once: whoever links it first wins, the other reads it (here: a second call finds it)."""
    cache = tmp_path / "c"
    key = private_files.secret(cache)
    assert key is not None and len(key) == private_files.KEY_BYTES and private_files.secret(cache) == key
    assert [p.name for p in cache.iterdir()] == [private_files.KEY_NAME]  # no temporary left beside it
    (cache / private_files.KEY_NAME).write_bytes(b"short")  # damaged: replaced, and kept from then on
    replaced = private_files.secret(cache)
    assert replaced not in (None, key) and private_files.secret(cache) == replaced
