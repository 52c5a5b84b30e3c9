"""China's official working days (public holidays off, 调休 make-up working days on), for the notice window (公示期).

The source of a year is the official schedule the city recorded for it (the State Council's yearly notice), else the
chinese-calendar library; a day of a year neither knows is a CalendarUnknown (503 problem `calendar-unknown`).
"""
