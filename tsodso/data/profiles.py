"""Seasonal profile data: IEEE RTS-96 hourly load shapes and a clear-sky PV model.

Both feed `cases/profiles_24h.csv` (the builder reads the CSV, not this module; the test
`test_profile_columns_match_sources` checks that the CSV columns equal these sources).

TN load (`tn_load_<season>`): IEEE Reliability Test System, Grigg et al., "The IEEE
Reliability Test System-1996", IEEE Trans. Power Syst. 14(3), 1999, Table 4 ("hourly peak
load in percent of daily peak"), weekday columns: winter = weeks 1-8 and 44-52, summer =
weeks 18-30, spring/autumn = weeks 9-17 and 31-43. Hour h = interval [h:00, h+1:00).

PV availability (`pv_<season>`), MW per MWp, clear sky:
  declination      delta = 23.45 deg sin(360/365 (doy - 81))              (Cooper 1969)
  zenith           cos z = sin(phi) sin(delta) + cos(phi) cos(delta) cos(omega),
                   omega = 15 deg (t - 12), t = local solar time, h
  air mass         AM = 1 / (cos z + 0.50572 (96.07995 - z_deg)^-1.6364)  (Kasten & Young 1989)
  direct normal    DNI = 1.353 kW/m2 * 0.7^(AM^0.678)                    (Meinel & Meinel 1976)
  plane of array   south-facing, tilt beta: cos(aoi) = sin(delta) sin(phi - beta)
                   + cos(delta) cos(phi - beta) cos(omega);
                   G = DNI max(cos aoi, 0) + 0.1 DNI (1 + cos beta) / 2  (diffuse ~ 10 % of
                   DNI, the clear-sky rule of PVEducation / Meinel)
  availability     PR * G / 1 kW/m2, PR = 0.85 (performance ratio: inverter, temperature,
                   wiring; PVWatts' default losses are 14 %), mean over the hour (60 steps)
Site phi = 48.0 deg N (central Europe, where the VDE-AR-N 4110 voltage-rise rule applies),
tilt beta = 30 deg. Representative days: winter 15 Jan (doy 15), summer 14 Jun (doy 165,
centre of RTS weeks 18-30), spring/autumn 29 Mar (doy 88, centre of weeks 9-17; weeks 31-43
centre on doy 256 with nearly the same declination).
"""
from __future__ import annotations

import numpy as np

SEASONS = ("winter", "summer", "spring_autumn")

# IEEE RTS-96 Table 4, weekday, % of daily peak, hours 0..23
RTS96_WEEKDAY_PCT = {
    "winter": (67, 63, 60, 59, 59, 60, 74, 86, 95, 96, 96, 95,
               95, 95, 93, 94, 99, 100, 100, 96, 91, 83, 73, 63),
    "summer": (64, 60, 58, 56, 56, 58, 64, 76, 87, 95, 99, 100,
               99, 100, 100, 97, 96, 96, 93, 92, 92, 93, 87, 72),
    "spring_autumn": (63, 62, 60, 58, 59, 65, 72, 85, 95, 99, 100, 99,
                      93, 92, 90, 88, 90, 92, 96, 98, 96, 90, 80, 70),
}
PV_DAY_OF_YEAR = {"winter": 15, "summer": 165, "spring_autumn": 88}
PV_LATITUDE_DEG = 48.0
PV_TILT_DEG = 30.0
PV_PERFORMANCE_RATIO = 0.85


def rts_load_profile(season: str) -> np.ndarray:
    """(24,) TN load multiplier (fraction of the daily peak) of an RTS-96 weekday."""
    return np.array(RTS96_WEEKDAY_PCT[season], float) / 100.0


def clear_sky_pv(doy: int, lat_deg: float = PV_LATITUDE_DEG, tilt_deg: float = PV_TILT_DEG,
                 pr: float = PV_PERFORMANCE_RATIO, steps: int = 60) -> np.ndarray:
    """(24,) clear-sky PV availability, MW per MWp, hourly means (model in the module doc)."""
    phi, beta = np.radians(lat_deg), np.radians(tilt_deg)
    delta = np.radians(23.45 * np.sin(np.radians(360.0 / 365.0 * (doy - 81))))
    t = (np.arange(24 * steps) + 0.5) / steps                  # solar time, h
    omega = np.radians(15.0 * (t - 12.0))
    cosz = np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.cos(omega)
    up = cosz > 0
    zdeg = np.degrees(np.arccos(np.clip(cosz, -1, 1)))
    am = np.full_like(t, np.inf)
    am[up] = 1.0 / (cosz[up] + 0.50572 * (96.07995 - zdeg[up]) ** -1.6364)
    dni = np.where(up, 1.353 * 0.7 ** (np.where(up, am, 1.0) ** 0.678), 0.0)
    cosi = (np.sin(delta) * np.sin(phi - beta)
            + np.cos(delta) * np.cos(phi - beta) * np.cos(omega))
    g = dni * np.maximum(cosi, 0.0) + 0.1 * dni * (1 + np.cos(beta)) / 2
    return np.clip(pr * g, 0.0, 1.0).reshape(24, steps).mean(axis=1)


def pv_profile(season: str) -> np.ndarray:
    return clear_sky_pv(PV_DAY_OF_YEAR[season])
