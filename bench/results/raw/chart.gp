
set terminal pngcairo size 1400,700 font "DejaVu Sans,10"
set output "/work/main/bench/results/report.png"
set title "mosquitto-iothub: capacity (work per CPU-second of the broker thread) relative to the bare broker (1.0 = as fast as mosquitto alone)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:1.25]
set ytics 0.1
set grid ytics
set key top center horizontal
set bmargin 6
set xtics font ",8"
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb "#444444"
plot for [i=2:7] "/work/main/bench/results/raw/chart.dat" using i:xtic(1) title columnheader(i)
