"""Each family's poll answers read into one TaskView: the bodies the API documents show (seeds/), and the shapes
API-NOTES.md adds. Pure functions (DESIGN.md: a family adapter), so the bodies are given verbatim."""

from __future__ import annotations

from typing import Any

import pytest

from batchvid.families import FAMILIES
from batchvid.families._base import Billing, TaskState, TaskView, VideoSource

SORA_TASK = {"task_id": "video_1234567890abcdef", "id": "video_1234567890abcdef", "object": "video_generation",
             "model": "sora-2", "created_at": 1704067200,
             "prompt": "A cute kitten playing in the garden, sunny and warm atmosphere", "seconds": "4",
             "size": "720x1280"}
WAN_TASK = {"task_id": "ae8eb420-8aa6-440a-8eb8-1d1afe8d5e97", "format": "mp4"}
WAN_URL = "https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/.../video.mp4"


def read(family: str, body: dict[str, Any]) -> TaskView:
    return FAMILIES[family].read_task(body)


def test_sora_as_its_page_shows_each_state() -> None:
    """seeds/001: queued 0-20 %, in_progress 20-99 %, succeeded (the video from the download endpoint), failed."""
    assert read("sora", {**SORA_TASK, "status": "queued", "progress": 0}) == TaskView(
        TaskState.QUEUED, "queued", progress=0)
    assert read("sora", {**SORA_TASK, "status": "in_progress", "progress": 50}) == TaskView(
        TaskState.RUNNING, "in_progress", progress=50)
    done = {**SORA_TASK, "status": "succeeded", "progress": 100, "completed_at": 1704067800, "width": 720,
            "height": 1280, "n_seconds": 4}
    assert read("sora", done) == TaskView(TaskState.SUCCEEDED, "succeeded", progress=100,
                                          video=VideoSource(via_download_endpoint=True))
    failed = {**SORA_TASK, "status": "failed", "progress": 100,
              "failure_reason": "Prompt contains inappropriate content",
              "error": {"message": "Prompt contains inappropriate content", "code": "content_policy_violation"}}
    view = read("sora", failed)
    assert (view.state, view.error_code, view.error_message) == (
        TaskState.FAILED, "content_policy_violation", "Prompt contains inappropriate content")
    # the failure_reason alone, where the error object is missing
    bare = {key: value for key, value in failed.items() if key != "error"}
    assert read("sora", bare).error_message == "Prompt contains inappropriate content"


def test_wan_as_its_page_shows_each_state() -> None:
    """seeds/003: `in_progress` covers both queuing (task_status PENDING) and rendering (RUNNING); the provider's
    queue is told apart, as a queued Vidu task is (queues.py)."""
    pending = {**WAN_TASK, "status": "in_progress",
               "metadata": {"model_price": 0.0738, "billing_pending": True, "output": {"task_status": "PENDING"}}}
    assert read("wan", pending).state is TaskState.QUEUED
    running = {**WAN_TASK, "status": "in_progress", "metadata": {"output": {"task_status": "RUNNING"}}}
    assert read("wan", running).state is TaskState.RUNNING
    done = {**WAN_TASK, "status": "succeeded", "url": WAN_URL + "?Expires=...",
            "metadata": {"model_price": 0.0738, "billing_pending": False, "group_ratio": 1,
                         "usage": {"video_count": 1, "duration": 5, "resolution": "720p"},
                         "output": {"task_status": "SUCCEEDED", "video_url": WAN_URL,
                                    "submit_time": "2025-11-04 19:15:11.819", "end_time": "2025-11-04 19:16:40.291"},
                         "request_id": "35549d8f-58e7-4c5c-a827-39a2f2d58a2d"}}
    view = read("wan", done)
    assert (view.state, view.video) == (TaskState.SUCCEEDED, VideoSource(url=WAN_URL + "?Expires=..."))
    assert view.billing == Billing(model_price="0.0738", seconds="5", group_ratio="1")
    # "`url` may be empty even on success for some upstreams" (API-NOTES): then metadata.output.video_url
    assert read("wan", {**done, "url": ""}).video == VideoSource(url=WAN_URL)
    failed = {**WAN_TASK, "status": "failed", "metadata": {"output": {
        "task_status": "FAILED", "code": "InvalidParameter.ImageFormat",
        "message": "Image format not supported or incorrect format"}}}
    view = read("wan", failed)
    assert (view.state, view.error_code, view.error_message) == (
        TaskState.FAILED, "InvalidParameter.ImageFormat", "Image format not supported or incorrect format")


@pytest.mark.parametrize(("body", "url"), [
    ({"url": "https://storage.example/v.mp4"}, "https://storage.example/v.mp4"),
    ({"url": ["https://storage.example/v.mp4", "https://storage.example/w.mp4"]}, "https://storage.example/v.mp4"),
    ({"url": "data:video/mp4;base64,AAAA"}, "data:video/mp4;base64,AAAA"),
    ({"url": "", "metadata": {"response": {"videos": [{"url": "https://storage.example/v.mp4"}]}}},
     "https://storage.example/v.mp4"),
    ({"url": "", "metadata": {"response": {"videos": [{"bytesBase64Encoded": "AAAA", "mimeType": "video/mp4"}]}}},
     "data:video/mp4;base64,AAAA"),
])
def test_veo_gives_its_video_in_any_of_the_places_api_notes_names(body: dict[str, Any], url: str) -> None:
    view = read("veo", {"task_id": "b3BlcmF0aW9ucy8x", "status": "succeeded", "format": "mp4", **body})
    assert (view.state, view.video) == (TaskState.SUCCEEDED, VideoSource(url=url))


def test_seedance_is_billed_by_its_tokens_and_its_video_found_in_its_content() -> None:
    done = {"task_id": "cgt-2025", "status": "succeeded", "url": "",
            "metadata": {"content": {"video_url": "https://tos.example/v.mp4"}, "usage": {"total_tokens": 108000}}}
    view = read("seedance", done)
    assert (view.video, view.billing.total_tokens) == (VideoSource(url="https://tos.example/v.mp4"), 108000)


def test_vidu_reports_progress_and_its_video_in_its_creations() -> None:
    running = {"task_id": "task_xxxxx", "status": "in_progress", "progress": 40}
    assert read("vidu", running) == TaskView(TaskState.RUNNING, "in_progress", progress=40)
    done = {"task_id": "task_xxxxx", "status": "succeeded", "url": "",
            "metadata": {"state": "success", "creations": [{"id": "c1", "url": "https://vidu.example/v.mp4"}]}}
    assert read("vidu", done).video == VideoSource(url="https://vidu.example/v.mp4")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_status_no_document_lists_is_still_running(family: str) -> None:
    """API-NOTES: anything else, treat as still running (polling on is safe; guessing failed is not)."""
    view = read(family, {"task_id": "t", "status": "processing"})
    assert (view.state, view.raw_status) == (TaskState.RUNNING, "processing")


def test_a_success_with_no_video_anywhere_has_no_video_source() -> None:
    """The downloads then ask the gateway again for where it is (fetching.py), rather than fetch nothing."""
    assert read("wan", {"task_id": "t", "status": "succeeded", "url": "", "metadata": {}}).video is None
