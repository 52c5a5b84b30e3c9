"""The notifications service's dependencies: its settings. The session (shared.db.SessionDep), the principal
(shared.auth) and the clock (shared.clock.ClockDep) are every service's."""

from typing import Annotated

from fastapi import Depends, Request

from services.notifications.settings import NotificationsSettings


async def get_settings(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[NotificationsSettings, Depends(get_settings)]
