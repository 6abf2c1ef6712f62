// The price chart: M1 candles (mid) from the API, the forming bar kept up to date from quotes,
// a marker per fill, and the open position's stop loss and take profit as price lines.
import {CandlestickSeries, ColorType, createChart, LineSeries, LineStyle} from 'lightweight-charts';
import {createSeriesMarkers} from 'lightweight-charts';
import type {AutoscaleInfo, CandlestickData, IChartApi, IPriceLine} from 'lightweight-charts';
import type {ISeriesApi} from 'lightweight-charts';
import type {ISeriesMarkersPluginApi, SeriesMarker, Time, UTCTimestamp} from 'lightweight-charts';

export interface Bar {
  time: string;
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface FillMark {
  time: string;
  side: string;
  lots: number;
  price: number;
}

const kUp = '#26a69a';
const kDown = '#ef5350';

export function secondsOf(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

function minuteOf(iso: string): UTCTimestamp {
  return (Math.floor(secondsOf(iso) / 60) * 60) as UTCTimestamp;
}

function chartOptions() {
  const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
  return {
    autoSize: true,
    layout: {
      background: {type: ColorType.Solid, color: dark ? '#161a20' : '#ffffff'},
      textColor: dark ? '#c8ccd2' : '#333a44',
      // The logo injects an inline <style>, which the page's CSP refuses; the attribution the
      // library's licence asks for is in the page's footer instead (main.ts).
      attributionLogo: false,
    },
    grid: {
      vertLines: {color: dark ? '#242a33' : '#eef0f3'},
      horzLines: {color: dark ? '#242a33' : '#eef0f3'},
    },
    timeScale: {timeVisible: true, secondsVisible: false},
  };
}

export class PriceChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly markers: ISeriesMarkersPluginApi<Time>;
  private lines: IPriceLine[] = [];
  private levelPrices: number[] = [];
  private fills: SeriesMarker<Time>[] = [];
  private forming: CandlestickData<UTCTimestamp>|null = null;
  private lastTime = 0;

  // The container also carries what the canvas shows, as data-markers, data-entry,
  // data-stop-loss and data-take-profit: for the browser test and assistive tools.
  constructor(private readonly container: HTMLElement) {
    this.chart = createChart(container, chartOptions());
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: kUp,
      downColor: kDown,
      borderVisible: false,
      wickUpColor: kUp,
      wickDownColor: kDown,
      priceFormat: {type: 'price', precision: 5, minMove: 0.00001},
      // The scale takes in the position's levels too: a stop or target beyond the candles would
      // otherwise be drawn off the chart.
      autoscaleInfoProvider: (candles: () => AutoscaleInfo | null) => {
        const info = candles();
        if (info === null || info.priceRange === null) return info;
        for (const price of this.levelPrices) {
          info.priceRange.minValue = Math.min(info.priceRange.minValue, price);
          info.priceRange.maxValue = Math.max(info.priceRange.maxValue, price);
        }
        return info;
      },
    });
    this.markers = createSeriesMarkers(this.candles, []);
  }

  setBars(bars: Bar[]): void {
    const data = bars.map((b) => ({
                            time: minuteOf(b.time),
                            open: b.open,
                            high: b.high,
                            low: b.low,
                            close: b.close,
                          }));
    this.candles.setData(data);
    this.forming = null;
    this.lastTime = data.length > 0 ? data[data.length - 1]!.time : 0;
    this.chart.timeScale().scrollToRealTime();
  }

  // A closed bar from the stream: it replaces the forming bar of its minute.
  closeBar(bar: Bar): void {
    const time = minuteOf(bar.time);
    if (time < this.lastTime) return;
    this.candles.update({time, open: bar.open, high: bar.high, low: bar.low, close: bar.close});
    this.lastTime = time;
    if (this.forming !== null && this.forming.time <= time) this.forming = null;
  }

  // A quote: the forming bar of its minute moves with the mid price.
  quote(time: string, mid: number): void {
    const minute = minuteOf(time);
    if (minute < this.lastTime) return;
    if (this.forming === null || this.forming.time !== minute) {
      this.forming = {time: minute, open: mid, high: mid, low: mid, close: mid};
    } else {
      this.forming.high = Math.max(this.forming.high, mid);
      this.forming.low = Math.min(this.forming.low, mid);
      this.forming.close = mid;
    }
    this.candles.update({...this.forming});
    this.lastTime = minute;
  }

  setFills(fills: FillMark[]): void {
    this.fills = fills
                     .map(
                         (f):
                             SeriesMarker<Time> => {
                               const buy = f.side === 'buy';
                               return {
                                 time: minuteOf(f.time),
                                 position: buy ? 'belowBar' : 'aboveBar',
                                 color: buy ? kUp : kDown,
                                 shape: buy ? 'arrowUp' : 'arrowDown',
                                 text: `${buy ? 'B' : 'S'} ${f.lots} @ ${f.price}`,
                               };
                             })
                     .sort((a, b) => (a.time as number) - (b.time as number));
    this.markers.setMarkers(this.fills);
    this.container.dataset['markers'] = String(this.fills.length);
  }

  // The open position's levels: entry, stop loss, take profit (null: none).
  setLevels(levels: {entry: number|null; stopLoss: number | null; takeProfit: number | null}):
      void {
    for (const line of this.lines) this.candles.removePriceLine(line);
    this.lines = [];
    this.levelPrices = [levels.entry, levels.stopLoss, levels.takeProfit].filter(
        (p): p is number => p !== null && p > 0);
    const add = (price: number|null, color: string, title: string) => {
      if (price === null || !(price > 0)) return;
      this.lines.push(this.candles.createPriceLine({
        price,
        color,
        lineWidth: 1,
        lineStyle: LineStyle.Dashed,
        axisLabelVisible: true,
        title,
      }));
    };
    this.container.dataset['entry'] = String(levels.entry ?? '');
    this.container.dataset['stopLoss'] = String(levels.stopLoss ?? '');
    this.container.dataset['takeProfit'] = String(levels.takeProfit ?? '');
    add(levels.entry, '#8a94a6', 'entry');
    add(levels.stopLoss, kDown, 'SL');
    add(levels.takeProfit, kUp, 'TP');
  }

  remove(): void {
    this.chart.remove();
  }
}

// The account's equity over time, from its checkpoints.
export class EquityChart {
  private readonly chart: IChartApi;
  private readonly line: ISeriesApi<'Line'>;
  private lastTime = 0;

  constructor(container: HTMLElement) {
    this.chart = createChart(container, {...chartOptions(), rightPriceScale: {visible: true}});
    this.line = this.chart.addSeries(LineSeries, {color: '#4c8dff', lineWidth: 2});
  }

  add(time: string, equity: number): void {
    const t = secondsOf(time);
    if (t < this.lastTime) return;
    this.line.update({time: t as UTCTimestamp, value: equity});
    this.lastTime = t;
  }

  remove(): void {
    this.chart.remove();
  }
}
