"""Named column indices of MATPOWER case arrays (0-based), after PYPOWER's idx_bus/idx_gen/idx_brch.

Use these, never bare integers, to index the arrays returned by `tsodso.data.matpower.read_case`.
Units follow MATPOWER case format version 2 (see MATPOWER `caseformat`).
"""

# ---- mpc.bus ----------------------------------------------------------------------------
BUS_I = 0        # bus number (positive integer, an id, not an index)
BUS_TYPE = 1     # 1 = PQ, 2 = PV, 3 = reference, 4 = isolated
PD = 2           # real power demand, MW
QD = 3           # reactive power demand, Mvar
GS = 4           # shunt conductance, MW demanded at V = 1 pu
BS = 5           # shunt susceptance, Mvar injected at V = 1 pu
BUS_AREA = 6
VM = 7           # voltage magnitude, pu
VA = 8           # voltage angle, degrees
BASE_KV = 9      # base voltage, kV
ZONE = 10
VMAX = 11        # pu
VMIN = 12        # pu
N_BUS_COLS = 13

PQ, PV, REF, NONE = 1, 2, 3, 4

# ---- mpc.gen ----------------------------------------------------------------------------
GEN_BUS = 0      # bus number
PG = 1           # MW
QG = 2           # Mvar
QMAX = 3         # Mvar
QMIN = 4         # Mvar
VG = 5           # pu
MBASE = 6        # MVA
GEN_STATUS = 7   # > 0 in service
PMAX = 8         # MW
PMIN = 9         # MW
N_GEN_COLS = 10  # columns tsodso requires (MATPOWER files usually carry 21)

# ---- mpc.branch -------------------------------------------------------------------------
F_BUS = 0        # from bus number
T_BUS = 1        # to bus number
BR_R = 2         # resistance, pu
BR_X = 3         # reactance, pu
BR_B = 4         # total line charging susceptance, pu
RATE_A = 5       # long-term rating, MVA (0 = unlimited)
RATE_B = 6
RATE_C = 7
TAP = 8          # transformer ratio (0 = line)
SHIFT = 9        # phase shift, degrees
BR_STATUS = 10   # 1 in service, 0 out
ANGMIN = 11
ANGMAX = 12
N_BRANCH_COLS = 11  # columns tsodso requires

# ---- mpc.gencost ------------------------------------------------------------------------
MODEL = 0        # 1 = piecewise linear, 2 = polynomial
STARTUP = 1      # $
SHUTDOWN = 2     # $
NCOST = 3        # number of coefficients (model 2) / points (model 1)
COST = 4         # first coefficient: model 2 gives c(n-1) ... c0, highest order first
PW_LINEAR, POLYNOMIAL = 1, 2
