"""``Editor``: the object the host and the web page talk to; Send runs the generation pipeline.

One pipeline at a time. In order, with NovelAI's hooks in NovelAI's shapes (hook_results.py:
each asked of one script at a time in load order, all with the same params, the answers
applied in that order; ``stopFurtherScripts`` skips the rest; a hook that raises or times out
is reported by the host and skipped). One ``continuityId`` is passed to every hook of a
generation, ``onTextAdventureInput`` included:

1. ``onGenerationRequested({scriptInitiated, scriptId, model, continuityId})``
2. the document through ``onDocumentConvertedToText({continuityId, reason, sections})``, the
   pieces and lorebook entries through ``onBeforeContextBuild`` (hook_params.py); the context
   is assembled (context.py)
3. ``onContextBuilt({messages, model, dryRun, continuityId})`` -> ``{messages?, stopGeneration?}``
4. the backend streams; chunks coalesced while hooks run go through ``onResponse``
   (hook_params.py), are published as ``doc.stream``, committed as one ``generation`` node
5. ``onGenerationEnd({text, model, stopped, continuityId})``

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
    ContextTooLarge,
    assemble_context,
    sections_until,
)
from nai_script.editor.events import EventBus
from nai_script.editor.gate import EditorGenerateGate
from nai_script.editor.hook_params import (
    ContextBuild,
    ResponseCalls,
    adventure_input,
    context_built,
    converted_text,
)
from nai_script.editor.hook_results import (
    ADVENTURE_MODES,
    AdventureMode,
    Apply,
    EndResult,
    RequestedResult,
    ResultT,
    fire_chain,
)
from nai_script.editor.models import StorySettings
from nai_script.editor.stop import StopPressed, StopSwitch
from nai_script.editor.store import StoryError, StoryStore
from nai_script.editor.story_ops import StoryOps
from nai_script.editor.streaming import StreamedText
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

    async def send(
        self, text: str | None = None, *, adventure: bool = False, mode: AdventureMode = "action"
    ) -> GenerationResult:
        """The user's Send: append ``text`` (if any), count a manual generation, generate.

        ``adventure``: text adventure input in ``mode`` (``action``, ``dialogue``, ``story``):
        ``onTextAdventureInput`` may change it and its mode, or stop the generation; it goes
        in as its own paragraph (``adventure_paragraph``; nothing for an empty input text)."""
        if mode not in ADVENTURE_MODES:
            raise ValueError(f"mode: must be one of {', '.join(ADVENTURE_MODES)}, got {mode!r}")
        self._claim()
        try:
            continuity = str(uuid.uuid4())
            if text and adventure:
                line, stopped_by = await adventure_input(self._fire, text, mode, continuity)
                if line:
                    await self.edit(lambda doc: doc.append_paragraph(line, "user"))
                if stopped_by is not None:
                    return GenerationResult(stopped=True, stoppedBy=stopped_by)
            elif text:
                await self.edit(lambda doc: doc.append(text, "user"))
            await self.host.record_manual_generation()
            return await self._generate("user", None, continuity)
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

    async def _generate(
        self, source: Source, script_id: str | None, continuity: str | None = None
    ) -> GenerationResult:
        settings = await self.settings()
        model = settings.params.model
        continuity = continuity or str(uuid.uuid4())
        start: dict[str, Any] = {"type": "generation.start", "source": source}
        if script_id is not None:
            start["scriptId"] = script_id
        self.events.publish(start)
        result = GenerationResult()
        try:
            result = await self._run(source, script_id, settings, continuity)
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
        ended = {"text": result.text, "model": model, "stopped": result.stopped}
        await self._fire("onGenerationEnd", {**ended, "continuityId": continuity}, EndResult)
        return result

    async def _run(
        self, source: Source, script_id: str | None, settings: StorySettings, continuity: str
    ) -> GenerationResult:
        model = settings.params.model
        until_stop = self._stop.unless_pressed

        params = {
            "scriptInitiated": source == "script",
            "scriptId": script_id,
            "model": model,
            "continuityId": continuity,
        }
        stopped_by = await until_stop(
            self._fire(
                "onGenerationRequested",
                params,
                RequestedResult,
                lambda _sid, answer: answer.stopGeneration,
            )
        )
        if stopped_by is not None:
            raise _Stopped(stopped_by)
        limit = context_size(model, self.tier) - settings.params.max_tokens
        built = await until_stop(
            self.build_context(settings, dry_run=False, limit=limit, continuity_id=continuity)
        )
        return await self._stream(settings, built.messages, continuity)

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
        asked ``onContextBuilt``. Without ``continuity_id`` the build gets its own."""
        settings = settings or await self.settings()
        model = settings.params.model
        continuity = continuity_id or str(uuid.uuid4())
        build = await self._gather(settings, until, continuity)
        await build.ask(self._fire, {"continuityId": continuity, "model": model, "dryRun": dry_run})
        built = await asyncio.to_thread(
            assemble_context,
            build.inputs(),
            model=model,
            tier=self.tier,
            tokenizers=self.tokenizers,
            limit=build.limit(limit, context_size(model, self.tier)),
        )
        built_params = {"messages": built.plain_messages(), "model": model, "dryRun": dry_run}
        built_params["continuityId"] = continuity
        messages, stopped_by = await context_built(self._fire, built_params, quiet)
        if messages is not None:
            built = built.model_copy(update={"messages": messages})
        if stopped_by is not None:
            raise _Stopped(stopped_by)
        return built

    async def _gather(
        self, settings: StorySettings, until: tuple[str, int | None] | None, continuity: str
    ) -> ContextBuild:
        """The document through ``onDocumentConvertedToText`` (the stored text is untouched),
        the lorebook entries active for it, the story's pieces."""
        sections = [(section.id, section.text) for section in await self.sections()]
        if until is not None:
            sections = sections_until(sections, *until)
        text = await converted_text(self._fire, sections, continuity)
        entries, categories = await self.lorebook()
        return ContextBuild.from_story(settings, text, entries, categories)

    async def _fire(
        self,
        hook: str,
        params: dict[str, Any],
        model: type[ResultT],
        apply: Apply[ResultT] | None = None,
        quiet: Collection[str] = (),
    ) -> str | None:
        """``hook_results.fire_chain`` with this editor's host and error reporting."""
        return await fire_chain(
            self.host,
            hook,
            params,
            model,
            apply or (lambda _sid, _answer: False),
            self._report,
            quiet,
        )

    def _report(self, script_id: str, message: str) -> None:
        script = self.host.script_by_id(script_id)
        if script is not None:
            self.host.emit_log(script, "error", message)

    # ----------------------------------------------------------------------- stream

    async def _stream(
        self, settings: StorySettings, messages: list[ChatMessage], continuity: str
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
        responses = ResponseCalls(self._fire, params.model, continuity)
        await written.start()
        self._stop.check()
        stream = self._stream_task = asyncio.ensure_future(read())
        stopped = done = False
        try:
            while not done and responses.stopped_by is None:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                done = batch[-1] is None
                await written.add(await responses.ask([c for c in batch if c is not None], done))
            if responses.stopped_by is not None:  # a script's stopGeneration: as Stop would
                stream.cancel()
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
        stopped = stopped or responses.stopped_by is not None
        return GenerationResult(
            text=written.text, stopped=stopped, stoppedBy=responses.stopped_by, nodeId=node_id
        )
