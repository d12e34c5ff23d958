function mpc = case33bw
%CASE33BW  Power flow data for 33 bus distribution system from Baran & Wu
%   Please see CASEFORMAT for details on the case file format.
%
%   Data from ...
%       M. E. Baran and F. F. Wu, "Network reconfiguration in distribution
%       systems for loss reduction and load balancing," in IEEE Transactions
%       on Power Delivery, vol. 4, no. 2, pp. 1401-1407, Apr 1989.
%       doi: 10.1109/61.25627
%       URL: https://doi.org/10.1109/61.25627
%
%   ---- tsodso provenance ------------------------------------------------
%   Source: MATPOWER data/case33bw.m (github.com/MATPOWER/matpower, commit
%     9766ecf63d9ac49bcc615951ed022305c4f58a6f).
%   Conversions: the MATPOWER file stores Pd/Qd in kW/kvar and r/x in ohms
%     and converts them with MATLAB code at its end. That code is applied
%     here once, so the file is plain MATPOWER data that any reader takes as
%     is (no executable statements):
%       Pd, Qd [MW, Mvar] = original [kW, kvar] / 1e3
%       r, x [pu]         = original [ohm] / Zbase,
%       Zbase = baseKV^2 / baseMVA = 12.66^2 / 10 = 16.02756 ohm
%     printed with 12 significant digits (relative error < 1e-11).
%   Per-unit base: baseMVA = 10 MVA, baseKV = 12.66 kV (tsodso keeps these
%     bases for the ADN: r ~ 5e-3 pu per section, not tiny).
%   Totals: 33 buses, 32 in-service radial branches (+5 tie switches with
%     status 0, ignored by tsodso), sum Pd = 3.715 MW, sum Qd = 2.300 Mvar.
%   What it exercises in tsodso: the radial feeder of every ADN (SOC
%     relaxation of DistFlow); bus 1 is the substation = PCC (tsodso bus 0).
%   Published result (Baran & Wu AC power flow, V(bus 1) = 1.0 pu, nominal
%     load): losses 202.68 kW (202.7 kW in Baran & Wu), min voltage
%     0.91309 pu at bus 18 (MATPOWER runpf(case33bw)).
%   ------------------------------------------------------------------------

%% MATPOWER Case Format : Version 2
mpc.version = '2';

%%-----  Power Flow Data  -----%%
%% system MVA base
mpc.baseMVA = 10;

%% bus data  (Pd, Qd already in MW, Mvar: the kW/kvar of the original divided by 1e3)
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	1	3	0	0	0	0	1	1	0	12.66	1	1	1;
	2	1	0.1	0.06	0	0	1	1	0	12.66	1	1.1	0.9;
	3	1	0.09	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
	4	1	0.12	0.08	0	0	1	1	0	12.66	1	1.1	0.9;
	5	1	0.06	0.03	0	0	1	1	0	12.66	1	1.1	0.9;
	6	1	0.06	0.02	0	0	1	1	0	12.66	1	1.1	0.9;
	7	1	0.2	0.1	0	0	1	1	0	12.66	1	1.1	0.9;
	8	1	0.2	0.1	0	0	1	1	0	12.66	1	1.1	0.9;
	9	1	0.06	0.02	0	0	1	1	0	12.66	1	1.1	0.9;
	10	1	0.06	0.02	0	0	1	1	0	12.66	1	1.1	0.9;
	11	1	0.045	0.03	0	0	1	1	0	12.66	1	1.1	0.9;
	12	1	0.06	0.035	0	0	1	1	0	12.66	1	1.1	0.9;
	13	1	0.06	0.035	0	0	1	1	0	12.66	1	1.1	0.9;
	14	1	0.12	0.08	0	0	1	1	0	12.66	1	1.1	0.9;
	15	1	0.06	0.01	0	0	1	1	0	12.66	1	1.1	0.9;
	16	1	0.06	0.02	0	0	1	1	0	12.66	1	1.1	0.9;
	17	1	0.06	0.02	0	0	1	1	0	12.66	1	1.1	0.9;
	18	1	0.09	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
	19	1	0.09	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
	20	1	0.09	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
	21	1	0.09	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
	22	1	0.09	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
	23	1	0.09	0.05	0	0	1	1	0	12.66	1	1.1	0.9;
	24	1	0.42	0.2	0	0	1	1	0	12.66	1	1.1	0.9;
	25	1	0.42	0.2	0	0	1	1	0	12.66	1	1.1	0.9;
	26	1	0.06	0.025	0	0	1	1	0	12.66	1	1.1	0.9;
	27	1	0.06	0.025	0	0	1	1	0	12.66	1	1.1	0.9;
	28	1	0.06	0.02	0	0	1	1	0	12.66	1	1.1	0.9;
	29	1	0.12	0.07	0	0	1	1	0	12.66	1	1.1	0.9;
	30	1	0.2	0.6	0	0	1	1	0	12.66	1	1.1	0.9;
	31	1	0.15	0.07	0	0	1	1	0	12.66	1	1.1	0.9;
	32	1	0.21	0.1	0	0	1	1	0	12.66	1	1.1	0.9;
	33	1	0.06	0.04	0	0	1	1	0	12.66	1	1.1	0.9;
];

%% generator data
%	bus	Pg	Qg	Qmax	Qmin	Vg	mBase	status	Pmax	Pmin	Pc1	Pc2	Qc1min	Qc1max	Qc2min	Qc2max	ramp_agc	ramp_10	ramp_30	ramp_q	apf
mpc.gen = [
	1	0	0	10	-10	1	100	1	10	0	0	0	0	0	0	0	0	0	0	0	0;
];

%% branch data  (r, x already in pu on 10 MVA, 12.66 kV: the ohms of the original / 16.02756)
%%   the last 5 rows are the normally-open tie switches (status 0) of Baran & Wu
%	fbus	tbus	r	x	b	rateA	rateB	rateC	ratio	angle	status	angmin	angmax
mpc.branch = [
	1	2	0.00575259116172	0.00293244885684	0	0	0	0	0	0	1	-360	360;
	2	3	0.0307595167324	0.015666763999	0	0	0	0	0	0	1	-360	360;
	3	4	0.0228356655661	0.0116299673812	0	0	0	0	0	0	1	-360	360;
	4	5	0.023777792752	0.0121103898535	0	0	0	0	0	0	1	-360	360;
	5	6	0.0510994811437	0.0441115179104	0	0	0	0	0	0	1	-360	360;
	6	7	0.0116798814043	0.0386084968642	0	0	0	0	0	0	1	-360	360;
	7	8	0.0443860450374	0.0146684835371	0	0	0	0	0	0	1	-360	360;
	8	9	0.0642643047351	0.0461704713631	0	0	0	0	0	0	1	-360	360;
	9	10	0.0651378001393	0.0461704713631	0	0	0	0	0	0	1	-360	360;
	10	11	0.0122663711756	0.00405551437649	0	0	0	0	0	0	1	-360	360;
	11	12	0.0233597628086	0.00772419507399	0	0	0	0	0	0	1	-360	360;
	12	13	0.0915922323797	0.0720633708437	0	0	0	0	0	0	1	-360	360;
	13	14	0.0337917936355	0.0444796338307	0	0	0	0	0	0	1	-360	360;
	14	15	0.0368739845616	0.0328184701851	0	0	0	0	0	0	1	-360	360;
	15	16	0.046563544295	0.0340039282336	0	0	0	0	0	0	1	-360	360;
	16	17	0.0804239697122	0.107377542184	0	0	0	0	0	0	1	-360	360;
	17	18	0.0456713311321	0.0358133115708	0	0	0	0	0	0	1	-360	360;
	2	19	0.0102323747345	0.009764430768	0	0	0	0	0	0	1	-360	360;
	19	20	0.0938508419248	0.0845668336291	0	0	0	0	0	0	1	-360	360;
	20	21	0.0255497405719	0.0298485858109	0	0	0	0	0	0	1	-360	360;
	21	22	0.0442300637153	0.0584805173089	0	0	0	0	0	0	1	-360	360;
	3	23	0.0281515090257	0.0192356166503	0	0	0	0	0	0	1	-360	360;
	23	24	0.0560284909244	0.044242542221	0	0	0	0	0	0	1	-360	360;
	24	25	0.0559037058666	0.0437434019901	0	0	0	0	0	0	1	-360	360;
	6	26	0.0126656833604	0.00645138748506	0	0	0	0	0	0	1	-360	360;
	26	27	0.0177319567046	0.00902819892735	0	0	0	0	0	0	1	-360	360;
	27	28	0.0660736880723	0.058255904205	0	0	0	0	0	0	1	-360	360;
	28	29	0.0501760717165	0.0437122057256	0	0	0	0	0	0	1	-360	360;
	29	30	0.031664208401	0.0161284687126	0	0	0	0	0	0	1	-360	360;
	30	31	0.06079528013	0.0600840053009	0	0	0	0	0	0	1	-360	360;
	31	32	0.0193728802138	0.0225798561977	0	0	0	0	0	0	1	-360	360;
	32	33	0.0212758523443	0.0330805188064	0	0	0	0	0	0	1	-360	360;
	21	8	0.124785057738	0.124785057738	0	0	0	0	0	0	0	-360	360;
	9	15	0.124785057738	0.124785057738	0	0	0	0	0	0	0	-360	360;
	12	22	0.124785057738	0.124785057738	0	0	0	0	0	0	0	-360	360;
	18	33	0.0311962644345	0.0311962644345	0	0	0	0	0	0	0	-360	360;
	25	29	0.0311962644345	0.0311962644345	0	0	0	0	0	0	0	-360	360;
];

%%-----  OPF Data  -----%%
%% generator cost data
%	1	startup	shutdown	n	x1	y1	...	xn	yn
%	2	startup	shutdown	n	c(n-1)	...	c0
mpc.gencost = [
	2	0	0	3	0	20	0;
];
