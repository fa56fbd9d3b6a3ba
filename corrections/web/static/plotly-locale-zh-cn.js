// plotly.js in Chinese (zh-CN): the plotly Python package ships plotly.min.js without its
// locale files, so the locale is registered here (dates, weekdays, months, the decimal point
// and thousands separator, the mode bar's words). Loaded right after plotly.min.js; a page
// draws with { locale: "zh-CN" }.
(function () {
  "use strict";
  if (!window.Plotly) return;
  const months = ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"];
  window.Plotly.register({
    moduleType: "locale",
    name: "zh-CN",
    dictionary: {
      Autoscale: "自动缩放",
      "Box Select": "矩形框选",
      "Click to enter Colorscale title": "单击编辑色阶标题",
      "Click to enter Component A title": "单击编辑组件A标题",
      "Click to enter Component B title": "单击编辑组件B标题",
      "Click to enter Component C title": "单击编辑组件C标题",
      "Click to enter Plot title": "单击编辑图表标题",
      "Click to enter X axis title": "单击编辑X轴标题",
      "Click to enter Y axis title": "单击编辑Y轴标题",
      "Compare data on hover": "悬停时比较数据",
      "Double-click on legend to isolate one trace": "双击图例来突显对应轨迹",
      "Double-click to zoom back out": "双击返回缩放",
      "Download plot as a png": "下载图表为PNG格式",
      "Download plot": "下载图表",
      "Lasso Select": "套索选择",
      "Orbital rotation": "轨道旋转",
      Pan: "平移",
      "Produced with Plotly": "由Plotly生成",
      Reset: "重置",
      "Reset axes": "重置轴",
      "Reset camera to default": "重置镜头视角为默认状态",
      "Reset camera to last save": "重置镜头视角为上次保存状态",
      "Reset view": "重置视图",
      "Reset views": "重置视图",
      "Show closest data on hover": "悬停时显示最近的数据",
      "Snapshot succeeded": "生成快照成功",
      "Sorry, there was a problem downloading your snapshot!": "抱歉，下载快照出现问题！",
      "Taking snapshot - this may take a few seconds": "正在生成快照 - 可能需要几秒钟",
      "Toggle Spike Lines": "切换显示数据点辅助线",
      "Toggle show closest data on hover": "切换显示最近的数据",
      "Turntable rotation": "转盘旋转",
      "Zoom in": "放大",
      "Zoom out": "缩小",
      Zoom: "缩放",
      close: "收盘",
      high: "最高",
      low: "最低",
      open: "开盘",
      trace: "轨迹",
    },
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months,
      shortMonths: months,
      date: "%Y-%m-%d",
      decimal: ".",
      thousands: ",",
    },
  });
})();
