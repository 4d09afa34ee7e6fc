"""``Editor``: the object the host and the web page talk to; Send runs the generation pipeline.

One pipeline at a time. In order, with NovelAI's hooks (each fired in script load order; a
hook that raises or times out is reported by the host and skipped):

1. ``onGenerationRequested({scriptInitiated, scriptId, model})`` -> ``{stopGeneration?}``
2. the pieces are gathered (settings, document text through ``onDocumentConvertedToText``,
   the active lorebook entries), then ``onBeforeContextBuild`` may change them for this
   build (see ``hook_results.BeforeBuildResult``); the context is assembled (context.py)
3. ``onContextBuilt({messages, model, dryRun, continuityId})`` -> ``{messages?, stopGeneration?}``
4. the backend streams; chunks that arrive while hooks run are coalesced, and each batch goes
   through ``onResponse({text: [..], tokenIds: [[..]], final, model})`` -> ``{text?}`` before
   it is published as ``doc.stream``; the text is committed as one ``generation`` node
5. ``onGenerationEnd({text, model, stopped})``

A blocking script generation (``api.v1.generate`` with ``behaviour="blocking"``) blocks Send;
a background one does not. Stop ends a generation at any step (stop.py), not only its stream.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from nai_script.client import NovelAIClient
from nai_script.client import errors as client_errors
from nai_script.client import models as wire
from nai_script.editor.context import (
    BuiltContext,
    ChatMessage,
    ContextEntry,
    ContextInputs,
    ContextTooLarge,
    assemble_context,
    text_until,
)
from nai_script.editor.events import EventBus
from nai_script.editor.gate import EditorGenerateGate
from nai_script.editor.hook_results import (
    AdventureResult,
    BeforeBuildResult,
    ContextBuiltResult,
    RequestedResult,
    ResponseResult,
    TextResult,
    apply_before_build,
    parse_results,
)
from nai_script.editor.lorebook import active_entries, with_headers
from nai_script.editor.models import StorySettings
from nai_script.editor.stop import StopPressed, StopSwitch
from nai_script.editor.store import StoryError, StoryStore
from nai_script.editor.story_ops import StoryOps
from nai_script.editor.streaming import StreamedText, merge_chunks
from nai_script.tokenizers import TokenizerRegistry, context_size

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost
    from nai_script.host.script import LoadedScript

Source = Literal["user", "script"]


class EditorBlocked(Exception):
    """Send while a generation is running (the editor's own, or a blocking script one)."""


class GenerationResult(BaseModel):
    text: str = ""
    stopped: bool = False
    stoppedBy: str | None = None
    error: str | None = None
    nodeId: str | None = None


class _Stopped(Exception):
    def __init__(self, script_id: str | None) -> None:
        self.script_id = script_id


class Editor(StoryOps):
    """See the module docstring; ``StoryOps`` has the story, document, settings and lorebook
    operations, each published on ``events``."""

    def __init__(
        self,
        store: StoryStore,
        host: ScriptHost,
        events: EventBus,
        *,
        tokenizers: TokenizerRegistry,
        client: NovelAIClient,
        tier: int | None = None,
        story_id: str | None = None,
        gate: EditorGenerateGate | None = None,
    ) -> None:
        super().__init__(store, host, events, story_id)
        self.tokenizers = tokenizers
        self.client = client
        self.tier = host.tier if tier is None else tier
        self.gate = gate or EditorGenerateGate(host.limits)
        host.generation_listeners.append(self._on_script_generation)
        self._running: asyncio.Task[Any] | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._stop = StopSwitch()

    # ----------------------------------------------------------------------- blocking

    def blocking_reason(self) -> str | None:
        if self._running is not None:
            return "a generation is in progress"
        for script in self.host.scripts:
            if script.generation is not None and script.generation.behaviour == "blocking":
                return f"script {script.id!r} is generating (blocking)"
        return None

    def is_blocked(self) -> bool:
        return self.blocking_reason() is not None

    @property
    def generating(self) -> bool:
        """The editor's own generation (Send, Retry, ``editor.generate``) is running."""
        return self._running is not None

    def check_idle(self, what: str) -> None:
        if self._running is not None:
            raise EditorBlocked(f"{what}: wait until the generation in progress ends")

    def _publish_blocked(self) -> None:
        reason = self.blocking_reason()
        self.events.publish(
            {"type": "editor.blocked", "blocked": reason is not None, "reason": reason}
        )

    def _on_script_generation(self, script: LoadedScript) -> None:
        """A blocking script generation blocks Send: the pages must grey it out, and free it
        again when it ends (a background one changes nothing)."""
        if script.last_behaviour == "blocking":
            self._publish_blocked()

    # --------------------------------------------------------------------------- send

    async def send(self, text: str | None = None, *, adventure: bool = False) -> GenerationResult:
        """The user's Send: append ``text`` (if any), count a manual generation, generate.

        ``adventure``: text adventure input: ``onTextAdventureInput({text})`` may rewrite it
        or stop, and it goes in as its own ``> text`` paragraph."""
        self._claim()
        try:
            if text and adventure:
                params = {"text": text}
                for sid, answer in await self._fire(
                    "onTextAdventureInput", params, AdventureResult
                ):
                    if answer.stopGeneration:
                        return GenerationResult(stopped=True, stoppedBy=sid)
                    if answer.text is not None:
                        text = params["text"] = answer.text
                line = f"> {text}"
                await self.edit(lambda doc: doc.append_paragraph(line, "user"))
            elif text:
                await self.edit(lambda doc: doc.append(text, "user"))
            await self.host.record_manual_generation()
            return await self._generate("user", None)
        finally:
            self._release()

    async def retry(self) -> GenerationResult:
        """Generate again in place of the last generation; the old one stays a sibling."""
        self._claim()
        try:
            parent = await self.store.run(self.history.prepare_retry)
            if parent is not None:
                self.host.history_node_id = parent.id
                await self.publish_state()
                await self.refresh_script_ui()
            await self.host.record_manual_generation()
            return await self._generate("user", None)
        finally:
            self._release()

    async def generate_for_script(self, script_id: str) -> GenerationResult:
        """``api.v1.editor.generate``: Send on a script's behalf (the gate was checked)."""
        self._claim()
        try:
            return await self._generate("script", script_id)
        finally:
            self._release()

    def cancel(self) -> bool:
        """Stop the running generation, at whatever step it is; the text streamed so far is
        kept."""
        if self._running is None:
            return False
        self._stop.press()
        if self._stream_task is not None:
            self._stream_task.cancel()
        return True

    def _claim(self) -> None:
        """Synchronously, before any await: a second Send fails at once."""
        reason = self.blocking_reason()
        if reason is not None:
            raise EditorBlocked(f"the editor is blocked: {reason}")
        current = asyncio.current_task()
        assert current is not None
        self._running = current
        self._stream_task = None
        self._stop.reset()
        self._publish_blocked()

    def _release(self) -> None:
        self._running = None
        self._stream_task = None
        self._publish_blocked()

    # --------------------------------------------------------------------- pipeline

    async def _generate(self, source: Source, script_id: str | None) -> GenerationResult:
        settings = await self.settings()
        model = settings.params.model
        start: dict[str, Any] = {"type": "generation.start", "source": source}
        if script_id is not None:
            start["scriptId"] = script_id
        self.events.publish(start)
        result = GenerationResult()
        try:
            result = await self._run(source, script_id, settings)
        except _Stopped as stop:
            result = GenerationResult(stopped=True, stoppedBy=stop.script_id)
        except StopPressed:
            result = GenerationResult(stopped=True)
        except (ContextTooLarge, StoryError, client_errors.NovelAIError) as error:
            result = GenerationResult(error=str(error))
        finally:
            end = {"type": "generation.end", "source": source, "stopped": result.stopped}
            if script_id is not None:
                end["scriptId"] = script_id
            if result.error is not None:
                end["error"] = result.error
            self.events.publish(end)
        await self.host.fire_hook(
            "onGenerationEnd", {"text": result.text, "model": model, "stopped": result.stopped}
        )
        return result

    async def _run(
        self, source: Source, script_id: str | None, settings: StorySettings
    ) -> GenerationResult:
        model = settings.params.model
        until_stop = self._stop.unless_pressed
        requested = await until_stop(
            self._fire(
                "onGenerationRequested",
                {"scriptInitiated": source == "script", "scriptId": script_id, "model": model},
                RequestedResult,
            )
        )
        for sid, answer in requested:
            if answer.stopGeneration:
                raise _Stopped(sid)
        limit = context_size(model, self.tier) - settings.params.max_tokens
        built = await until_stop(self.build_context(settings, dry_run=False, limit=limit))
        return await self._stream(settings, built.messages)

    async def build_context(
        self,
        settings: StorySettings | None = None,
        *,
        dry_run: bool = True,
        limit: int | None = None,
        continuity_id: str | None = None,
        until: tuple[str, int | None] | None = None,
        quiet: Collection[str] = (),
    ) -> BuiltContext:
        """Steps 2-3 of the pipeline (``api.v1.buildContext`` runs them as a dry run): the
        story up to ``until`` (section id, offset) if given; the scripts in ``quiet`` are not
        asked ``onContextBuilt``."""
        settings = settings or await self.settings()
        model = settings.params.model
        inputs = await self._gather(settings, until)
        params = {**inputs.model_dump(), "contextLimit": limit, "dryRun": dry_run, "model": model}
        for _sid, change in await self._fire("onBeforeContextBuild", params, BeforeBuildResult):
            inputs, limit = apply_before_build(inputs, limit, change)
        built = await asyncio.to_thread(
            assemble_context,
            inputs,
            model=model,
            tier=self.tier,
            tokenizers=self.tokenizers,
            limit=limit,
        )
        built_params = {
            "messages": built.plain_messages(),
            "model": model,
            "dryRun": dry_run,
            "continuityId": continuity_id or str(uuid.uuid4()),
        }
        built_hooks = await self._fire("onContextBuilt", built_params, ContextBuiltResult, quiet)
        for sid, answer in built_hooks:
            if answer.messages is not None:
                built = built.model_copy(update={"messages": answer.messages})
            if answer.stopGeneration and not dry_run:
                raise _Stopped(sid)
        return built

    async def _gather(
        self, settings: StorySettings, until: tuple[str, int | None] | None = None
    ) -> ContextInputs:
        if until is None:
            text = await self.text()
        else:
            texts = [(section.id, section.text) for section in await self.sections()]
            text = text_until(texts, *until)
        for _sid, answer in await self._fire(
            "onDocumentConvertedToText", {"text": text}, TextResult
        ):
            if answer.text is not None:
                text = answer.text
        entries, categories = await self.lorebook()
        active = active_entries(entries, text, categories=categories)
        return ContextInputs(
            systemPrompt=settings.systemPrompt,
            memory=settings.memory,
            authorsNote=settings.authorsNote,
            prefill=settings.prefill,
            storyText=text,
            lorebookEntries=[
                ContextEntry(id=e.id, displayName=e.displayName, text=text)
                for e, text in with_headers(active, categories)
            ],
        )

    async def _fire(
        self, hook: str, params: dict[str, Any], model: type[Any], quiet: Collection[str] = ()
    ) -> list[tuple[str, Any]]:
        results = await self.host.fire_hook(hook, params, skip=quiet)
        return parse_results(hook, model, results, self._report)

    def _report(self, script_id: str, message: str) -> None:
        script = self.host.script_by_id(script_id)
        if script is not None:
            self.host.emit_log(script, "error", message)

    # ----------------------------------------------------------------------- stream

    async def _stream(
        self, settings: StorySettings, messages: list[ChatMessage]
    ) -> GenerationResult:
        params = settings.params
        request = wire.ChatCompletionRequest(
            model=params.model,
            messages=[wire.ChatMessage(role=m.role, content=m.content) for m in messages],
            **params.model_dump(exclude={"model"}),
        )
        queue: asyncio.Queue[wire.ChatCompletionChunk | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for chunk in self.client.stream_chat_completions(request):
                    queue.put_nowait(chunk)
            finally:
                queue.put_nowait(None)

        written = StreamedText(self, self.events)
        await written.start()
        self._stop.check()
        stream = self._stream_task = asyncio.ensure_future(read())
        stopped = False
        try:
            done = False
            while not done:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                done = batch[-1] is None
                text, ids = merge_chunks([c for c in batch if c is not None])
                await written.add(await self._on_response(text, ids, params.model, final=done))
            await stream
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or current.cancelling() or not stream.cancelled():
                raise
            stopped = True
        finally:
            stream.cancel()
        if written.node is not None:
            await self._publish_history()
        node_id = written.node.id if written.node else None
        return GenerationResult(text=written.text, stopped=stopped, nodeId=node_id)

    async def _on_response(self, text: str, ids: list[int], model: str, *, final: bool) -> str:
        params = {"text": [text], "tokenIds": [ids], "final": final, "model": model}
        for _sid, answer in await self._fire("onResponse", params, ResponseResult):
            if answer.text:
                text = answer.text[0]
                params["text"] = [text]
        return text
