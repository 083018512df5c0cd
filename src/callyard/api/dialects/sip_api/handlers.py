"""The App.Sip_* services: each translates its form into a service call and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from callyard.api.dialects.sip_api.call_codes import (
    ANSWER_TYPES,
    NUMBER_STATES,
    NUMBER_STATUSES,
    OUTCOMES,
    TASK_STATES,
    TASK_STATUSES,
)
from callyard.api.dialects.sip_api.code_tables import CallType
from callyard.api.dialects.sip_api.codes import GROUP_STATUSES, LINE_CHECKS, line_code
from callyard.api.dialects.sip_api.schemas import (
    AddExtgroupForm,
    CallForm,
    DoubleCallForm,
    EditExtnumberForm,
    ExtensionListForm,
    GetGroupExtForm,
    GetRecodeFileForm,
    GetSipnumberInfoForm,
    GroupFilterForm,
    GroupForm,
    LoginForm,
    MakeCallForm,
    MembershipForm,
    TaskAppendForm,
    TaskCreateForm,
    TaskForm,
    TaskInfoForm,
    TaskListForm,
    TokenForm,
)
from callyard.api.forms import Form
from callyard.services.auth import AuthService, Caller
from callyard.services.calls import CallService, CustomFields
from callyard.services.companies import Capability
from callyard.services.extensions import ExtensionService
from callyard.services.groups import GroupService
from callyard.services.recordings import RecordingService
from callyard.services.tasks import AddedNumbers, Page, TaskService
from callyard.timefmt import TimeFormat

F = TypeVar("F", bound=Form)


@dataclass(frozen=True)
class Deps:
    """The services this dialect calls."""

    auth: AuthService
    extensions: ExtensionService
    groups: GroupService
    recordings: RecordingService
    calls: CallService
    tasks: TaskService
    times: TimeFormat


@dataclass(frozen=True)
class Context:
    client_ip: str
    token: str
    _caller: Caller | None

    @property
    def caller(self) -> Caller:
        assert self._caller is not None, "service declared without a token"
        return self._caller


@dataclass(frozen=True)
class Done:
    """`data.status` 0 with `desc`, and `result` when there is one."""

    desc: str
    result: Any = None


@dataclass(frozen=True)
class Bare:
    """`data` is the result itself (GetGroupExt)."""

    data: Any


Reply = Done | Bare
Handler = Callable[[Deps, Context, F], Awaitable[Reply]]


@dataclass(frozen=True)
class Service(Generic[F]):
    form: type[F]
    capability: Capability  # what the company must be licensed for
    handler: Handler[F]
    needs_token: bool = True


async def login(deps: Deps, ctx: Context, form: LoginForm) -> Reply:
    session = await deps.auth.login(form.appid, form.accesskey, ctx.client_ip)
    return Done(
        "Authorization successful",
        {
            "companycode": str(session.caller.company_code),
            "companyname": session.caller.company_name,
            "token": session.token,
            "authtime": deps.times(session.authorized_at, session.caller.timezone),
            "authmodel": "",
        },
    )


async def logout(deps: Deps, ctx: Context, form: TokenForm) -> Reply:
    await deps.auth.logout(ctx.token, ctx.client_ip)
    return Done("logout successful")


async def add_group(deps: Deps, ctx: Context, form: AddExtgroupForm) -> Reply:
    await deps.groups.add(ctx.caller, form.name, enabled=form.status == 1)
    return Done("Extension group added successfully")


async def delete_group(deps: Deps, ctx: Context, form: GroupForm) -> Reply:
    await deps.groups.delete(ctx.caller, form.name)
    return Done("successfully deleted")


async def group_info(deps: Deps, ctx: Context, form: GroupFilterForm) -> Reply:
    groups = await deps.groups.info(ctx.caller, form.name or None)
    return Done(
        "get success",
        [{"id": g.id, "name": g.name, "status": GROUP_STATUSES[g.enabled].value} for g in groups],
    )


async def check_in(deps: Deps, ctx: Context, form: MembershipForm) -> Reply:
    await deps.groups.check_in(ctx.caller, form.name, form.extnumber)
    return Done("Added successfully")


async def check_out(deps: Deps, ctx: Context, form: MembershipForm) -> Reply:
    await deps.groups.check_out(ctx.caller, form.name, form.extnumber)
    return Done("successfully deleted")


async def set_state(deps: Deps, ctx: Context, form: EditExtnumberForm) -> Reply:
    await deps.groups.set_state(ctx.caller, form.name, form.extnumber, form.state)
    return Done("Successfully modified")


async def group_extensions(deps: Deps, ctx: Context, form: GetGroupExtForm) -> Reply:
    members = await deps.groups.members(ctx.caller, form.name or None, form.extnumber or None)
    return Bare(
        [
            {
                "name": m.group,
                "extnumber": m.number,
                "status": "answer" if m.answered else "hangup",
                "priority": m.priority,
                "linkcount": m.call_seconds,
                "date": deps.times(m.updated_at, ctx.caller.timezone),
                "state": m.state.value,
            }
            for m in members
        ]
    )


async def extension_info(deps: Deps, ctx: Context, form: GetSipnumberInfoForm) -> Reply:
    extensions = await deps.extensions.info(ctx.caller, form.status, form.extnumber or None)
    return Done(
        "get success",
        [
            {
                "extnumber": e.number,
                "password": e.password,
                "status": LINE_CHECKS[e.status].value,
                "register": "reg" if e.registered else "nreg",
            }
            for e in extensions
        ],
    )


async def valid_status(deps: Deps, ctx: Context, form: ExtensionListForm) -> Reply:
    codes = await deps.extensions.valid_status(ctx.caller, form.extnumber)
    return Done("get success", [{"extnumber": n, "code": LINE_CHECKS[c].value} for n, c in codes])


async def register_status(deps: Deps, ctx: Context, form: ExtensionListForm) -> Reply:
    statuses = await deps.extensions.registration_status(ctx.caller, form.extnumber)
    return Done(
        "get success",
        [
            {
                "extnumber": number,
                "code": LINE_CHECKS[check].value,
                "clientip": registration.client_ip if registration else None,
                "serverip": registration.server_ip if registration else None,
            }
            for number, check, registration in statuses
        ],
    )


async def recording_link(deps: Deps, ctx: Context, form: GetRecodeFileForm) -> Reply:
    downurl, expires_at = await deps.recordings.download(ctx.caller, form.filename)
    return Done(
        "get success",
        {
            "downurl": downurl,
            "expiredtime": f"Expiration time:{deps.times(expires_at, ctx.caller.timezone)}",
        },
    )


def _custom(form: CallForm) -> CustomFields:
    return CustomFields(form.userid, form.chengshudu, form.memberid, form.customuuid)


async def make_call(deps: Deps, ctx: Context, form: MakeCallForm) -> Reply:
    await deps.calls.make_call(
        ctx.caller, form.extnumber, form.destnumber, form.disnumber or None, _custom(form)
    )
    return Done("Call command sent successfully")


async def double_call(deps: Deps, ctx: Context, form: DoubleCallForm) -> Reply:
    await deps.calls.double_call(
        ctx.caller,
        form.extnumber,
        form.anumber,
        form.bnumber,
        form.disnumber or None,
        _custom(form),
    )
    return Done("The double call command is sent successfully")


async def call_status(deps: Deps, ctx: Context, form: ExtensionListForm) -> Reply:
    statuses = await deps.calls.call_status(ctx.caller, form.extnumber)
    return Done(
        "get success",
        [
            {
                "extnumber": s.number,
                "status": line_code(s.status).value,
                "caller": s.call.extnumber if s.call else None,
                "callee": s.call.destnumber if s.call else None,
                "disnumber": s.call.disnumber if s.call else None,
                "direction": CallType.CALLOUT.value if s.call else None,
                "channel": s.call.call_id if s.call else None,
                "idleduration": s.idle_seconds,
                "callduration": s.call_seconds,
            }
            for s in statuses
        ],
    )


def _added(added: AddedNumbers) -> dict[str, Any]:
    return {
        "added": added.added,
        "duplicates": list(added.duplicates),
        "invalid": [{"telphone": n.telphone, "reason": n.reason} for n in added.invalid],
    }


def _paged(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "totalitems": page.total,
        "currentpage": page.request.number,
        "itemsperpage": page.request.size,
        "result": items,
    }


async def task_create(deps: Deps, ctx: Context, form: TaskCreateForm) -> Reply:
    created = await deps.tasks.create(ctx.caller, form.spec(), form.numbers)
    return Done("Task created successfully", {"taskid": created.taskid, **_added(created.numbers)})


async def task_append(deps: Deps, ctx: Context, form: TaskAppendForm) -> Reply:
    added = await deps.tasks.append(ctx.caller, form.taskid, form.numbers)
    return Done("Numbers added successfully", _added(added))


async def task_start(deps: Deps, ctx: Context, form: TaskForm) -> Reply:
    return Done(
        "Task started successfully", TASK_STATUSES[await deps.tasks.start(ctx.caller, form.taskid)]
    )


async def task_pause(deps: Deps, ctx: Context, form: TaskForm) -> Reply:
    state = await deps.tasks.pause(ctx.caller, form.taskid)
    return Done("Task paused successfully", TASK_STATUSES[state])


async def task_resume(deps: Deps, ctx: Context, form: TaskForm) -> Reply:
    state = await deps.tasks.resume(ctx.caller, form.taskid)
    return Done("Task resumed successfully", TASK_STATUSES[state])


async def task_stop(deps: Deps, ctx: Context, form: TaskForm) -> Reply:
    state = await deps.tasks.stop(ctx.caller, form.taskid)
    return Done("Task stopped successfully", TASK_STATUSES[state])


async def task_delete(deps: Deps, ctx: Context, form: TaskForm) -> Reply:
    await deps.tasks.delete(ctx.caller, form.taskid)
    return Done("successfully deleted", [])


async def task_list(deps: Deps, ctx: Context, form: TaskListForm) -> Reply:
    state = TASK_STATES[form.status] if form.status is not None else None
    page = await deps.tasks.list_tasks(ctx.caller, form.page(), state)
    return Done(
        "get success",
        _paged(
            page,
            [
                {
                    "taskid": t.taskid,
                    "name": t.name,
                    "groupname": t.groupname,
                    "status": TASK_STATUSES[t.state].value,
                    "createtime": deps.times(t.created_at, ctx.caller.timezone),
                    "total": t.total,
                    "dialed": t.dialed,
                    "answered": t.answered,
                    "connected": t.connected,
                    "abandoned": t.abandoned,
                    "abandonrate": t.abandon_rate,
                    "occupancy": t.occupancy,
                    "holdreason": t.held_reason,
                }
                for t in page.items
            ],
        ),
    )


async def task_info(deps: Deps, ctx: Context, form: TaskInfoForm) -> Reply:
    state = NUMBER_STATES[form.status] if form.status is not None else None
    outcomes = OUTCOMES[form.answertype] if form.answertype is not None else None
    page = await deps.tasks.info(ctx.caller, form.taskid, form.page(), state, outcomes)
    return Done(
        "get success",
        _paged(
            page,
            [
                {
                    "taskid": n.taskid,
                    "telphone": n.telphone,
                    "userid": n.userid,
                    "memberid": n.memberid,
                    "chengshudu": n.maturity,
                    "customuuid": n.customuuid,
                    "status": NUMBER_STATUSES[n.state].value,
                    "extnumber": n.extnumber,
                    "answered": None if n.answered is None else int(n.answered),
                    "answertype": ANSWER_TYPES[n.last_outcome].value if n.last_outcome else None,
                    "calltime": deps.times(n.calltime, ctx.caller.timezone),
                    "duration": n.duration,
                    "billsec": n.billsec,
                    "createtime": deps.times(n.created_at, ctx.caller.timezone),
                    "mark": n.mark,
                }
                for n in page.items
            ],
        ),
    )


SERVICES: dict[str, Service[Any]] = {
    "App.Sip_Auth.Login": Service(LoginForm, Capability.SESSIONS, login, needs_token=False),
    "App.Sip_Auth.Logout": Service(TokenForm, Capability.SESSIONS, logout),
    "App.Sip_Extgroup.AddExtgroup": Service(AddExtgroupForm, Capability.GROUPS, add_group),
    "App.Sip_Extgroup.DelExtgroup": Service(GroupForm, Capability.GROUPS, delete_group),
    "App.Sip_Extgroup.GetExtgroupInfo": Service(GroupFilterForm, Capability.GROUPS, group_info),
    "App.Sip_Extgroup.AddExtnumber": Service(MembershipForm, Capability.GROUPS, check_in),
    "App.Sip_Extgroup.DelExtnumber": Service(MembershipForm, Capability.GROUPS, check_out),
    "App.Sip_Extgroup.EditExtnumber": Service(EditExtnumberForm, Capability.GROUPS, set_state),
    "App.Sip_Extgroup.GetGroupExt": Service(GetGroupExtForm, Capability.GROUPS, group_extensions),
    "App.Sip_Sipnum.GetSipnumberInfo": Service(
        GetSipnumberInfoForm, Capability.EXTENSIONS, extension_info
    ),
    "App.Sip_Status.GetSipValidStatus": Service(
        ExtensionListForm, Capability.PRESENCE, valid_status
    ),
    "App.Sip_Cdr.GetRecodeFile": Service(GetRecodeFileForm, Capability.RECORDINGS, recording_link),
    "App.Sip_Call.MakeCall": Service(MakeCallForm, Capability.CALLS, make_call),
    "App.Sip_Call.DoubleCall": Service(DoubleCallForm, Capability.CALLS, double_call),
    "App.Sip_Status.GetSipCallStatus": Service(ExtensionListForm, Capability.PRESENCE, call_status),
    "App.Sip_Status.GetSipRegisterStatus": Service(
        ExtensionListForm, Capability.PRESENCE, register_status
    ),
    "App.Sip_Yccall.TaskCreate": Service(TaskCreateForm, Capability.CAMPAIGNS, task_create),
    "App.Sip_Yccall.TaskAppend": Service(TaskAppendForm, Capability.CAMPAIGNS, task_append),
    "App.Sip_Yccall.TaskStart": Service(TaskForm, Capability.CAMPAIGNS, task_start),
    "App.Sip_Yccall.TaskPause": Service(TaskForm, Capability.CAMPAIGNS, task_pause),
    "App.Sip_Yccall.TaskResume": Service(TaskForm, Capability.CAMPAIGNS, task_resume),
    "App.Sip_Yccall.TaskStop": Service(TaskForm, Capability.CAMPAIGNS, task_stop),
    "App.Sip_Yccall.TaskDelete": Service(TaskForm, Capability.CAMPAIGNS, task_delete),
    "App.Sip_Yccall.TaskList": Service(TaskListForm, Capability.CAMPAIGNS, task_list),
    "App.Sip_Yccall.TaskInfo": Service(TaskInfoForm, Capability.CAMPAIGNS, task_info),
}
