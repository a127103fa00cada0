// The kiosk picker's filter box (hub/web/templates/_picker.html): typing narrows the list of
// kiosk checkboxes to the ids that contain what was typed. Without this script the whole list
// shows and the typed-ids field still works; with it, the keyboard is enough: Tab to the box,
// type, Tab through the checkboxes that are left, Space to tick.
document.addEventListener("input", function (event) {
  var box = event.target;
  if (!box.classList || !box.classList.contains("picker-filter")) return;
  var want = box.value.trim().toLowerCase();
  var list = box.parentNode.querySelector(".picker-kiosks");
  list.querySelectorAll("label").forEach(function (label) {
    label.hidden = want !== "" && label.textContent.toLowerCase().indexOf(want) < 0;
  });
});
