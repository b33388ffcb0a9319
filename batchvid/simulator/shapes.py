"""The answers of each family, shaped as the documents and API-NOTES.md show them."""

from __future__ import annotations

import base64
import time
from typing import Any

from .tasks import SimTask

WAN_PRICES = {"480p": 0.0369, "720p": 0.0738, "1080p": 0.1233}
PER_SECOND = {"sora": 0.10, "veo": 0.15}


def _model_price(task: SimTask) -> float | None:
    if task.family == "wan":
        return WAN_PRICES.get(task.resolution)
    return PER_SECOND.get(task.family)


def _billing(task: SimTask, pending: bool) -> dict[str, Any]:
    price = _model_price(task)
    if price is None:
        return {"billing_pending": pending}
    ratio = task.extra.get("group_ratio", 1)
    return {"model_price": price, "group_ratio": ratio, "requested_seconds": task.seconds, "billing_pending": pending}


def submit_answer(task: SimTask) -> dict[str, Any]:
    tid = task.task_id
    if task.family == "sora":
        return {
            "format": "mp4",
            "metadata": {
                "completed_at": None, "created_at": task.created_at, "error": None, "expires_at": None, "id": tid,
                "model": task.model, "object": "video", "progress": 0, "remixed_from_video_id":
                task.body.get("remix_from_video_id"), "seconds": str(task.seconds),
                "size": task.body.get("size", "720x1280"), "status": "queued",
            },
            "status": "submitted",
            "task_id": tid,
        }
    if task.family == "wan":
        return {
            "task_id": tid, "status": "submitted", "format": "mp4",
            "metadata": {**_billing(task, True), "token_name": "nebula-video-generations-default",
                         "output": {"task_id": tid, "task_status": "PENDING"}, "request_id": tid[::-1]},
        }
    if task.family == "veo":
        return {"task_id": tid}
    if task.family == "seedance":
        return {"task_id": tid, "status": "submitted"}
    return {"id": tid, "task_id": tid, "object": "video.generation.job", "model": task.model, "status": "queued",
            "progress": 0, "created_at": task.created_at}


def _sora_query(task: SimTask, phase: str, progress: int, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_id": task.task_id, "id": task.task_id, "object": "video_generation", "model": task.model,
        "status": status, "progress": progress, "created_at": task.created_at,
        "prompt": task.body.get("prompt"), "seconds": str(task.seconds), "size": task.body.get("size", "720x1280"),
    }
    if phase == "succeeded":
        width, height = (1280, 720) if task.aspect_ratio == "16:9" else (720, 1280)
        body.update(completed_at=int(time.time()), width=width, height=height, n_seconds=task.seconds)
    elif phase == "failed" and _provider_failed(task):
        body.update(failure_reason="Internal server error", error={"message": "Internal server error",
                                                                    "code": "server_error"})
    elif phase == "failed":
        reason = "Prompt contains inappropriate content"
        body.update(failure_reason=reason, error={"message": reason, "code": "content_policy_violation"})
    return body


def _provider_failed(task: SimTask) -> bool:
    """A task that failed for the provider's own trouble (its error table's 500 words), not for its request."""
    return task.extra.get("failure") == "provider"


def _wan_output(task: SimTask, phase: str, url: str) -> dict[str, Any]:
    if phase == "failed" and _provider_failed(task):
        return {"task_status": "FAILED", "code": "InternalError", "message": "Internal Server Error"}
    if phase == "failed":
        return {"task_status": "FAILED", "code": "InvalidParameter.DataInspection",
                "message": "Content moderation failed"}
    if phase == "succeeded":
        return {"task_status": "SUCCEEDED", "video_url": url,
                "submit_time": time.strftime("%Y-%m-%d %H:%M:%S"), "end_time": time.strftime("%Y-%m-%d %H:%M:%S")}
    return {"task_status": "PENDING" if phase == "queued" else "RUNNING"}


#: the ways Veo's answers give the video (API-NOTES): `url` a string, a list of them or a data: URI; or `url` empty
#: and the video in the upstream's own `metadata.response.videos`, by URL or as base64
VEO_STYLES = ("string", "list", "data", "response-url", "response-bytes")


def _veo_url(task: SimTask, url: str) -> Any:
    if task.veo_style == "list":
        return [url]
    if task.veo_style == "data":
        return "data:video/mp4;base64," + _base64(task)
    if task.veo_style.startswith("response-"):
        return ""  # "`url` may be empty even on success for some upstreams"
    return url


def _base64(task: SimTask) -> str:
    return base64.b64encode(task.video.read()).decode()


def _success_metadata(task: SimTask, url: str) -> dict[str, Any]:
    if task.family == "wan":
        return {**_billing(task, False), "usage": {"video_count": 1, "duration": task.seconds,
                                                   "resolution": task.resolution},
                "output": _wan_output(task, "succeeded", url), "request_id": task.task_id[::-1]}
    if task.family == "seedance":
        tokens = int(task.extra["tokens"])
        return {"id": task.task_id, "model": task.model, "status": "succeeded", "content": {"video_url": url},
                "usage": {"completion_tokens": tokens, "total_tokens": tokens}, "billing_pending": False}
    if task.family == "vidu":
        return {"id": task.task_id, "state": "success", "creations": [{"id": "c1", "url": url}]}
    video = {"bytesBase64Encoded": _base64(task)} if task.veo_style == "response-bytes" else {"url": url}
    return {**_billing(task, False), "response": {"videos": [{**video, "mimeType": "video/mp4"}]}}


def query_answer(task: SimTask, now: float, url: str) -> dict[str, Any]:
    phase = task.phase(now)
    progress = task.progress(now)
    status = {"queued": "queued", "running": "in_progress"}.get(phase, phase)
    if phase == "running" and task.unknown_status:
        status = "processing"  # a status no document lists: clients must keep polling
    if task.family == "sora":
        return _sora_query(task, phase, progress, status)
    if task.family == "wan" and phase == "queued":
        status = "in_progress"  # Wan reports queuing as in_progress with task_status PENDING
    body: dict[str, Any] = {"task_id": task.task_id, "status": status, "url": "", "format": "mp4", "error": None}
    if task.family == "vidu":
        body["progress"] = progress  # of the envelope families, only Vidu's upstream reports progress
    if phase == "succeeded":
        body["metadata"] = _success_metadata(task, url)
        if task.family == "veo":
            body["url"] = _veo_url(task, url)
        elif task.family != "vidu":  # Vidu leaves url empty; the video is in metadata.creations
            body["url"] = url
    elif phase == "failed":
        body["error"] = {"code": 400, "message": "Internal error, please try again later" if _provider_failed(task)
                         else "The request was rejected by content moderation"}
        body["metadata"] = {"output": _wan_output(task, phase, url)} if task.family == "wan" else {}
    else:
        body["metadata"] = {"output": _wan_output(task, phase, url)} if task.family == "wan" else _billing(task, True)
    return body
